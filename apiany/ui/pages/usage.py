"""/usage: the user's requests, paginated on the server, with filters and CSV export."""

from __future__ import annotations

import reflex as rx

from apiany.ui.components.tables import data_table, filter_input, filter_select, moment_local, pager
from apiany.ui.layouts.shell import console_page
from apiany.ui.state.auth import SessionState
from apiany.ui.state.usage import UsageState

HEADERS = ["Request id", "Time", "Key", "Model", "Type", "Status", "Latency", "Credits", "Error"]
STATUS_COLORS = (("success", "grass"), ("error", "red"), ("pending", "amber"))


def _filters() -> rx.Component:
    f = UsageState.filters
    return rx.form(
        rx.grid(
            filter_input("From", "since", f["since"], type="date"),
            filter_input("To", "until", f["until"], type="date"),
            filter_select("Key", "key", UsageState.key_options, f["key"]),
            filter_select("Model", "model", UsageState.model_options, f["model"]),
            filter_select("Status", "status", UsageState.status_options, f["status"]),
            filter_select("Type", "type", UsageState.type_options, f["type"]),
            columns=rx.breakpoints(initial="2", sm="3", lg="6"), spacing="3", width="100%",
        ),
        rx.hstack(
            rx.button(rx.icon("filter", size=16), "Apply filters", type="submit"),
            rx.button(rx.icon("download", size=16), "Export CSV", type="button", variant="soft",
                      loading=UsageState.exporting, on_click=UsageState.export_csv),
            spacing="3", margin_top="0.75rem", wrap="wrap",
        ),
        on_submit=UsageState.apply_filters,
        reset_on_submit=False,
        width="100%",
    )


def _row(r: rx.Var) -> rx.Component:
    cell = rx.table.cell
    return rx.table.row(
        rx.table.row_header_cell(rx.link(rx.code(r["request_id"], size="1"), href="/usage/" + r["request_id"],
                                         aria_label="Request " + r["request_id"])),
        cell(moment_local(r["time"]), white_space="nowrap"),
        cell(r["key"]), cell(r["model"]), cell(r["type"]),
        cell(rx.badge(r["status"], " ", r["http"], color_scheme=rx.match(r["status"], *STATUS_COLORS, "gray"))),
        cell(r["latency"], white_space="nowrap", text_align="right"),
        cell(r["credits"], text_align="right", data_testid="usage-credits"),
        cell(rx.text(r["error"], size="1", color_scheme="red")),
    )


@console_page("/usage", "Usage", on_load=[UsageState.load_options, UsageState.reset_and_load])
def usage() -> rx.Component:
    return rx.vstack(
        rx.text("Every request to /v1, newest first. Credits are charged only for successful work; "
                "open a request id for its attempts, tokens and ledger movements.", size="2", color_scheme="gray"),
        _filters(),
        rx.cond(UsageState.loaded_for == SessionState.user_id,
                rx.vstack(data_table(HEADERS, UsageState.rows, _row, label="Requests", loading=UsageState.loading,
                                     empty="No requests match. Calls made with your keys show up here."),
                          pager(UsageState), spacing="3", width="100%")),
        spacing="4", width="100%",
    )
