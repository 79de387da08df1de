"""/admin/orders: orders with their states, review flags and event timeline;
full refunds through Stripe; manual (bank transfer) payments."""

from __future__ import annotations

import reflex as rx

from apiany.ui.components.tables import data_table, labelled
from apiany.ui.layouts.shell import console_page
from apiany.ui.state.admin_orders import ORDER_STATES, AdminOrdersState


def _order_row(o: rx.Var) -> rx.Component:
    return rx.table.row(
        rx.table.cell("#", o["id"]), rx.table.cell(o["user"]), rx.table.cell(o["pack"]),
        rx.table.cell(o["provider"]), rx.table.cell(o["amount"]),
        rx.table.cell(rx.badge(o["label"])),
        rx.table.cell(rx.cond(o["review"] != "", rx.badge("Review", color_scheme="red",
                                                          title=o["review"]))),
        rx.table.cell(o["created"]),
        rx.table.cell(rx.hstack(
            rx.button("Timeline", size="1", variant="soft", on_click=AdminOrdersState.show(o["id"]),
                      aria_label="Timeline of order " + o["id"]),
            rx.cond(o["refundable"] != "",
                    rx.button("Refund", size="1", color_scheme="red", variant="soft",
                              on_click=AdminOrdersState.refund(o["id"]),
                              aria_label="Refund order " + o["id"])),
            spacing="2")),
    )


def _timeline_row(e: rx.Var) -> rx.Component:
    return rx.table.row(rx.table.cell(e["time"]), rx.table.cell(e["what"]),
                        rx.table.cell(e["cause"]), rx.table.cell(e["note"]))


def _manual_form() -> rx.Component:
    def field(label: str, name: str, **props) -> rx.Component:
        return labelled(label, f"manual-{name}", rx.input(id=f"manual-{name}", name=name, **props))

    return rx.card(rx.form(rx.vstack(
        rx.heading("Record a manual payment", size="3", as_="h2"),
        rx.grid(field("User email", "email", required=True), field("Pack code", "pack", required=True),
                field("Amount (minor units)", "amount_minor", required=True, input_mode="numeric"),
                field("Currency", "currency", default_value="usd", max_length=3),
                field("Bank / invoice reference", "reference", required=True),
                field("Note", "note"),
                columns=rx.breakpoints(initial="1", md="3"), spacing="3", width="100%"),
        rx.button("Record payment", type="submit"),
        spacing="3"), on_submit=AdminOrdersState.record_manual, reset_on_submit=True), width="100%")


@console_page("/admin/orders", "Orders", on_load=AdminOrdersState.load, admin=True)
def admin_orders() -> rx.Component:
    return rx.vstack(
        rx.cond(AdminOrdersState.message != "",
                rx.callout(AdminOrdersState.message, icon="info", width="100%", role="status")),
        rx.cond(AdminOrdersState.error != "",
                rx.callout(AdminOrdersState.error, icon="triangle_alert", color_scheme="red",
                           width="100%", role="alert")),
        rx.hstack(rx.text("State", size="2"),
                  rx.el.select(*[rx.el.option(s or "All", value=s) for s in ORDER_STATES],
                               value=AdminOrdersState.state_filter, aria_label="Filter by state",
                               on_change=AdminOrdersState.filter_state),
                  align="center", spacing="2"),
        data_table(["Order", "User", "Pack", "Provider", "Amount", "State", "Review", "Created", ""],
                   AdminOrdersState.orders, _order_row, label="Orders", empty="No orders."),
        rx.cond(AdminOrdersState.shown_id > 0, rx.vstack(
            rx.heading("Order #", AdminOrdersState.shown_id, " timeline", size="3", as_="h2"),
            data_table(["Time", "Change / event", "Cause", "Note"], AdminOrdersState.timeline,
                       _timeline_row, label="Order timeline", empty="No events."),
            width="100%")),
        _manual_form(),
        spacing="4",
        width="100%",
    )
