"""Dashboard panels: first-run checklist, recent requests, recent failures."""

from __future__ import annotations

import reflex as rx

from apiany.ui.components.tables import code_sample, data_table, filter_select, moment_local
from apiany.ui.state.activity import ActivityState as A


def _step(done: rx.Var[bool], title: str, detail: rx.Component) -> rx.Component:
    return rx.hstack(
        rx.cond(done, rx.icon("circle_check", color=rx.color("grass", 10), size=20, aria_label="Done"),
                rx.icon("circle", color=rx.color("gray", 8), size=20, aria_label="To do")),
        rx.vstack(rx.text(title, weight="medium", size="2"), detail, spacing="1", width="100%", min_width="0"),
        spacing="3", align="start", width="100%",
    )


def checklist() -> rx.Component:
    return rx.cond(~A.checklist_done, rx.card(rx.vstack(
        rx.heading("Get started", size="4", as_="h2"),
        _step(A.has_key, "Create an API key", rx.link("Go to API keys", href="/keys", size="2")),
        _step(A.has_call, "Make a first call",
              rx.vstack(rx.text("Replace YOUR_API_KEY with your key:", size="2", color_scheme="gray"),
                        code_sample(A.first_call, "First call"), width="100%")),
        _step(A.has_purchase, "Add credits", rx.link("Buy a credit pack", href="/billing", size="2")),
        spacing="3", width="100%"), width="100%", aria_label="Get started checklist"))


def _row(r: rx.Var) -> rx.Component:
    return rx.table.row(
        rx.table.row_header_cell(rx.link(rx.code(r["request_id"], size="1"), href="/usage/" + r["request_id"])),
        rx.table.cell(moment_local(r["time"]), white_space="nowrap"), rx.table.cell(r["model"]),
        rx.table.cell(r["status"]), rx.table.cell(r["credits"]),
        rx.table.cell(rx.text(r["error"], size="1", color_scheme="red")),
    )


def activity_panels() -> rx.Component:
    headers = ["Request id", "Time", "Model", "Status", "Credits", "Error"]
    return rx.grid(
        rx.vstack(rx.heading("Recent requests", size="4", as_="h2"),
                  data_table(headers, A.recent, _row, label="Recent requests",
                             empty="No requests yet."), spacing="2", width="100%", min_width="0"),
        rx.vstack(rx.heading("Recent failures", size="4", as_="h2"),
                  data_table(headers, A.failures, _row, label="Recent failures",
                             empty="No failed requests."), spacing="2", width="100%", min_width="0"),
        columns=rx.breakpoints(initial="1", lg="2"), spacing="4", width="100%",
    )


def usage_chart() -> rx.Component:
    """Requests (bars) and credits (line) per day for the last 30 days, optionally for one model."""
    return rx.card(rx.vstack(
        rx.hstack(rx.heading("Last 30 days", size="4", as_="h2"), rx.spacer(),
                  rx.box(filter_select("Chart model", "chart_model", A.models, A.chart_model,
                                       on_change=A.set_chart_model), width="12rem"),
                  align="end", width="100%", wrap="wrap"),
        rx.recharts.composed_chart(
            rx.recharts.bar(data_key="requests", name="Requests", y_axis_id="left", fill=rx.color("accent", 9)),
            rx.recharts.line(data_key="credits", name="Credits", y_axis_id="right", stroke=rx.color("orange", 9),
                             dot=False),
            rx.recharts.x_axis(data_key="day", interval="preserveStartEnd"),
            rx.recharts.y_axis(y_axis_id="left", allow_decimals=False),
            rx.recharts.y_axis(y_axis_id="right", orientation="right"),
            rx.recharts.tooltip(), rx.recharts.legend(),
            data=A.chart, width="100%", height=240,
        ),
        spacing="3", width="100%"), width="100%", aria_label="Requests and credits per day")
