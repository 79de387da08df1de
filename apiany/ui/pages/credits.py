"""/credits: the credit ledger (every movement of the user's credits)."""

from __future__ import annotations

import reflex as rx

from apiany.ui.components.tables import data_table, filter_input, filter_select, moment_local, pager
from apiany.ui.layouts.shell import console_page
from apiany.ui.state.auth import SessionState
from apiany.ui.state.credits import CreditsState

HEADERS = ["Time", "Kind", "Amount", "Balance after", "Reference", "Memo", "Lot expiry"]
KIND_COLORS = (("grant", "grass"), ("purchase", "grass"), ("consumption", "gray"), ("refund", "blue"),
               ("expiration", "amber"), ("adjustment", "violet"), ("clawback", "red"), ("reversal", "red"))


def _filters() -> rx.Component:
    f = CreditsState.filters
    return rx.form(
        rx.grid(
            filter_select("Kind", "kind", CreditsState.kind_options, f["kind"]),
            filter_input("From", "since", f["since"], type="date"),
            filter_input("To", "until", f["until"], type="date"),
            columns=rx.breakpoints(initial="1", sm="3"), spacing="3", width="100%",
        ),
        rx.hstack(
            rx.button(rx.icon("filter", size=16), "Apply filters", type="submit"),
            rx.button(rx.icon("download", size=16), "Export CSV", type="button", variant="soft",
                      loading=CreditsState.exporting, on_click=CreditsState.export_csv),
            spacing="3", margin_top="0.75rem", wrap="wrap",
        ),
        on_submit=CreditsState.apply_filters, reset_on_submit=False, width="100%",
    )


def _total(t: rx.Var) -> rx.Component:
    return rx.card(rx.vstack(rx.text(t["kind"], size="1", color_scheme="gray", text_transform="capitalize"),
                             rx.text(t["amount"], size="3", weight="bold", aria_label="Total " + t["kind"]),
                             spacing="1"), size="1")


def _row(r: rx.Var) -> rx.Component:
    cell = rx.table.cell
    return rx.table.row(
        rx.table.row_header_cell(moment_local(r["time"]), white_space="nowrap"),
        cell(rx.badge(r["kind"], color_scheme=rx.match(r["kind"], *KIND_COLORS, "gray"))),
        cell(r["amount"], white_space="nowrap", text_align="right", data_testid="ledger-amount"),
        cell(r["balance_after"], text_align="right"),
        cell(rx.cond(r["link"] != "", rx.link(r["reference"], href=r["link"]), rx.text(r["reference"])),
             white_space="nowrap"),
        cell(rx.text(r["memo"], size="1")),
        cell(r["lot_expiry"], white_space="nowrap"),
    )


@console_page("/credits", "Credits", on_load=CreditsState.reset_and_load)
def credits() -> rx.Component:
    return rx.vstack(
        rx.text("Every movement of your credits: grants, purchases, consumption, refunds, expirations and "
                "adjustments. Balance after is your balance right after that movement.",
                size="2", color_scheme="gray"),
        _filters(),
        rx.cond(CreditsState.loaded_for == SessionState.user_id, rx.vstack(
            rx.heading("Totals for the selected period", size="3", as_="h2"),
            rx.flex(rx.foreach(CreditsState.totals, _total), gap="3", wrap="wrap", aria_label="Totals per kind"),
            data_table(HEADERS, CreditsState.rows, _row, label="Ledger", loading=CreditsState.loading,
                       empty="No credit movements match."),
            pager(CreditsState), spacing="3", width="100%")),
        spacing="4", width="100%",
    )
