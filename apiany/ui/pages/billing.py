"""/billing: credit packs and plans (Buy goes to Stripe Checkout), the
current subscription with cancel, and the order history with states."""

from __future__ import annotations

import reflex as rx

from apiany.ui.components.tables import data_table
from apiany.ui.layouts.shell import console_page
from apiany.ui.state.billing import BillingState

STATE_COLORS = {"paid": "grass", "pending": "amber", "created": "gray", "failed": "red",
                "expired": "gray", "canceled": "gray", "refunded": "blue",
                "partially_refunded": "blue", "disputed": "orange", "dispute_won": "grass",
                "dispute_lost": "red"}


def _pack_card(pack: rx.Var) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.hstack(rx.heading(pack["name"], size="4", as_="h3"),
                      rx.cond(pack["kind"] == "plan", rx.badge("Monthly plan", color_scheme="violet"),
                              rx.badge("Credit pack")),
                      justify="between", width="100%", align="center"),
            rx.text(pack["credits"], size="5", weight="bold"),
            rx.text(pack["price"], size="3", color_scheme="gray"),
            rx.text(pack["note"], size="2", color_scheme="gray"),
            rx.button(rx.cond(pack["kind"] == "plan", "Subscribe", "Buy"),
                      on_click=BillingState.buy(pack["code"]),
                      loading=BillingState.busy == pack["code"],
                      aria_label=rx.cond(pack["kind"] == "plan", "Subscribe to ", "Buy ") + pack["name"],
                      data_testid="buy-" + pack["code"], width="100%"),
            spacing="2",
        ),
        width="100%",
    )


def _subscription() -> rx.Component:
    sub = BillingState.subscription
    return rx.cond(
        BillingState.has_subscription,
        rx.card(
            rx.hstack(
                rx.vstack(
                    rx.heading("Your subscription", size="4", as_="h2"),
                    rx.text("Status: ", sub["status"], " · current period ends ", sub["renews"],
                            size="2", data_testid="subscription-status"),
                    rx.cond(sub["cancel_at_period_end"] != "",
                            rx.text("Cancels at the end of the period.", size="2", color_scheme="amber")),
                    spacing="1",
                ),
                rx.cond(sub["cancel_at_period_end"] == "",
                        rx.button("Cancel subscription", color_scheme="red", variant="soft",
                                  on_click=BillingState.cancel_subscription)),
                justify="between", align="center", width="100%",
            ),
            width="100%",
        ),
    )


def _order_row(order: rx.Var) -> rx.Component:
    return rx.table.row(
        rx.table.cell("#", order["id"]),
        rx.table.cell(order["pack"]),
        rx.table.cell(order["amount"]),
        rx.table.cell(rx.badge(order["label"], color_scheme=rx.match(
            order["state"], *[(k, v) for k, v in STATE_COLORS.items()], "gray"))),
        rx.table.cell(order["created"]),
    )


@console_page("/billing", "Billing", on_load=BillingState.load)
def billing() -> rx.Component:
    return rx.vstack(
        rx.callout("New accounts get free credits, no card required. Buy more when you need them.",
                   icon="gift", width="100%"),
        rx.cond(BillingState.error != "",
                rx.callout(BillingState.error, icon="triangle_alert", color_scheme="red",
                           width="100%", role="alert")),
        _subscription(),
        rx.heading("Credit packs and plans", size="4", as_="h2"),
        rx.grid(rx.foreach(BillingState.packs, _pack_card),
                columns=rx.breakpoints(initial="1", sm="2", lg="3"), spacing="4", width="100%"),
        rx.text("Payments are processed by Stripe. Credits are added as soon as Stripe confirms "
                "the payment.", size="2", color_scheme="gray"),
        rx.heading("Orders", size="4", as_="h2"),
        data_table(["Order", "Pack", "Amount", "State", "Created"], BillingState.orders,
                   _order_row, label="Orders", empty="No orders yet."),
        spacing="4",
        width="100%",
    )
