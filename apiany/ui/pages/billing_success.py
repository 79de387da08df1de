"""/billing/success: where Stripe Checkout returns. It never grants credits:
it watches the order until the webhook has marked it paid (or not)."""

from __future__ import annotations

import reflex as rx

from apiany.ui.layouts.shell import console_page
from apiany.ui.state.billing import BillingSuccessState


@console_page("/billing/success", "Payment", on_load=BillingSuccessState.load)
def billing_success() -> rx.Component:
    state = BillingSuccessState
    return rx.card(
        rx.vstack(
            rx.heading("Order #", state.order_id, size="5", as_="h2"),
            rx.hstack(
                rx.cond(state.waiting & ~state.gave_up, rx.spinner(size="2")),
                rx.text(state.label, size="4", weight="bold", data_testid="order-state",
                        role="status", aria_live="polite"),
                spacing="2", align="center",
            ),
            rx.cond(state.state == "paid",
                    rx.text("Your credits have been added.", size="2"),
                    rx.cond(state.gave_up,
                            rx.text("Stripe has not confirmed the payment yet. It can take a few "
                                    "minutes; this page does not need to stay open.", size="2"),
                            rx.text("Waiting for Stripe to confirm the payment...", size="2",
                                    color_scheme="gray"))),
            rx.hstack(rx.link(rx.button("Go to dashboard"), href="/dashboard"),
                      rx.link(rx.button("Billing", variant="soft"), href="/billing"),
                      spacing="3"),
            spacing="3",
        ),
        width="100%",
        max_width="36rem",
    )
