"""/dashboard: balance, free credits and their expiry, shortcuts."""

from __future__ import annotations

import reflex as rx

from apiany.ui.components.activity import activity_panels, checklist, usage_chart
from apiany.ui.components.cards import shortcut_card, stat_card
from apiany.ui.layouts.shell import console_page
from apiany.ui.state.activity import ActivityState
from apiany.ui.state.auth import SessionState
from apiany.ui.state.dashboard import DashboardState

GRID_COLUMNS = rx.breakpoints(initial="1", sm="2", lg="4")


def _expiry_note() -> rx.Component:
    return rx.text(
        rx.cond(DashboardState.next_expiry == "never", "Does not expire",
                "Next expiry: " + DashboardState.next_expiry),
        size="2", color_scheme="gray", data_testid="next-expiry",
    )


def _balances() -> rx.Component:
    return rx.grid(
        stat_card("Balance", DashboardState.balance, icon="wallet", test_id="balance",
                  detail=rx.text("Available: ", DashboardState.available, size="2", color_scheme="gray")),
        stat_card("Free credits", DashboardState.free, icon="gift", test_id="free-credits",
                  detail=_expiry_note()),
        stat_card("Purchased credits", DashboardState.purchased, icon="credit_card", test_id="purchased-credits",
                  detail=rx.text("Reserved for running requests: ", DashboardState.held, size="2",
                                 color_scheme="gray")),
        stat_card("Expiring within 7 days", DashboardState.expiring_soon, icon="hourglass",
                  test_id="expiring-soon",
                  detail=rx.cond(DashboardState.has_expiring,
                                 rx.text("Spend them first: they are used before other credits.",
                                         size="2", color_scheme="gray"),
                                 rx.text("Nothing expires this week.", size="2", color_scheme="gray"))),
        columns=GRID_COLUMNS,
        spacing="4",
        width="100%",
    )


def _shortcuts() -> rx.Component:
    return rx.vstack(
        rx.heading("Shortcuts", size="4", as_="h2"),
        rx.grid(
            shortcut_card("Create API key", "Get a key for the OpenAI-compatible /v1 endpoint.",
                          href="/keys", icon="key_round"),
            shortcut_card("Add credits", "Buy a credit pack with a card (Stripe Checkout).",
                          href="/billing", icon="circle_plus"),
            shortcut_card("Browse models", "Ids, capabilities and prices.", href="/models", icon="boxes"),
            columns=rx.breakpoints(initial="1", md="3"),
            spacing="4",
            width="100%",
        ),
        spacing="3",
        width="100%",
    )


@console_page("/dashboard", "Dashboard", on_load=[DashboardState.load, ActivityState.load])
def dashboard() -> rx.Component:
    return rx.vstack(
        rx.text("Welcome, ", SessionState.greeting_name, size="3", color_scheme="gray"),
        rx.cond(DashboardState.loaded_for == SessionState.user_id, _balances(),
                rx.center(rx.spinner(size="3"), width="100%", padding_y="2rem", aria_label="Loading balance")),
        rx.cond(ActivityState.loaded_for == SessionState.user_id, checklist()),
        _shortcuts(),
        rx.cond(ActivityState.loaded_for == SessionState.user_id,
                rx.vstack(usage_chart(), activity_panels(), spacing="5", width="100%")),
        spacing="5",
        width="100%",
    )
