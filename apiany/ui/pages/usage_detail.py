"""/usage/[request_id]: one request's story (attempts, tokens, credits, bodies)."""

from __future__ import annotations

import reflex as rx

from apiany.ui.components.tables import code_sample, data_table
from apiany.ui.layouts.shell import console_page
from apiany.ui.state.auth import SessionState
from apiany.ui.state.usage import RequestDetailState as S


def _section(title: str, *children) -> rx.Component:
    return rx.vstack(rx.heading(title, size="4", as_="h2"), *children, spacing="2", width="100%")


def _attempt(a: rx.Var) -> rx.Component:
    return rx.table.row(rx.table.row_header_cell(a["no"]), rx.table.cell(a["channel"]), rx.table.cell(a["status"]),
                        rx.table.cell(a["http"]), rx.table.cell(a["latency"]), rx.table.cell(a["error"]))


def _movement(m: rx.Var) -> rx.Component:
    return rx.table.row(rx.table.row_header_cell(m["kind"]), rx.table.cell(m["amount"]),
                        rx.table.cell(m["balance_after"]), rx.table.cell(m["time"]))


def _found() -> rx.Component:
    return rx.vstack(
        rx.data_list.root(rx.foreach(S.facts, lambda f: rx.data_list.item(rx.data_list.label(f["label"]),
                                                                          rx.data_list.value(f["value"]))),
                          size="2", aria_label="Request facts"),
        _section("Upstream attempts", data_table(["#", "Channel", "Result", "HTTP", "Latency", "Error"],
                                                 S.attempts, _attempt, label="Attempts",
                                                 empty="No upstream attempt (rejected before routing).")),
        _section("Credit movements", data_table(["Kind", "Amount", "Balance after", "Time"], S.ledger, _movement,
                                                label="Credit movements", empty="No credits moved for this request.")),
        _section("Bodies", rx.cond(
            (S.request_body != "") | (S.response_body != ""),
            rx.vstack(rx.text("Request", weight="medium", size="2"), code_sample(S.request_body, "Request body"),
                      rx.text("Response", weight="medium", size="2"), code_sample(S.response_body, "Response body"),
                      width="100%"),
            rx.text("Not stored: content logging was off for this key, or the retention window has passed.",
                    size="2", color_scheme="gray"))),
        spacing="5", width="100%",
    )


@console_page("/usage/[request_id]", "Request", on_load=S.load)
def usage_detail() -> rx.Component:
    return rx.vstack(
        rx.link(rx.hstack(rx.icon("arrow_left", size=16), "Back to usage", align="center", spacing="1"),
                href="/usage"),
        rx.cond(S.loaded_for == SessionState.user_id,
                rx.cond(S.found, _found(),
                        rx.callout("No request with this id in your account.", icon="search_x", width="100%")),
                rx.center(rx.spinner(size="3"), padding_y="2rem", aria_label="Loading request")),
        spacing="4", width="100%",
    )
