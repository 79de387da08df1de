"""/models: the public model catalog with prices and ready-to-run examples."""

from __future__ import annotations

import reflex as rx

from apiany.ui.components.tables import code_tabs, data_table, filter_select, labelled
from apiany.ui.layouts.shell import console_page
from apiany.ui.state.catalog import CatalogState

STATUS_COLORS = (("active", "grass"), ("deprecated", "amber"), ("unavailable", "red"))


def _row(model: rx.Var) -> rx.Component:
    cell = rx.table.cell
    return rx.table.row(
        rx.table.row_header_cell(rx.vstack(rx.code(model["id"], size="1"),
                                           rx.text(model["name"], size="1", color_scheme="gray"), spacing="1")),
        cell(model["type"]),
        cell(model["capabilities"]),
        cell(model["price"]),
        cell(rx.badge(model["status"], color_scheme=rx.match(model["status"], *STATUS_COLORS, "gray"))),
        cell(rx.button("Details", size="1", variant="soft", aria_label="Details for " + model["id"],
                       on_click=CatalogState.show(model["id"]))),
    )


def _detail() -> rx.Component:
    m = CatalogState.selected
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title(m["id"]),
            rx.vstack(
                rx.text(m["description"], size="2"),
                rx.data_list.root(
                    rx.data_list.item(rx.data_list.label("Type"), rx.data_list.value(m["type"])),
                    rx.data_list.item(rx.data_list.label("Capabilities"), rx.data_list.value(m["capabilities"])),
                    rx.data_list.item(rx.data_list.label("Price"), rx.data_list.value(m["price"])),
                    rx.data_list.item(rx.data_list.label("Parameters"), rx.data_list.value(m["parameters"])),
                    rx.data_list.item(rx.data_list.label("Status"), rx.data_list.value(m["status"])),
                    size="2", orientation=rx.breakpoints(initial="vertical", sm="horizontal"),
                    style={"overflow_wrap": "anywhere"},
                ),
                rx.heading("Try it", size="3", as_="h3"),
                code_tabs(CatalogState.samples, m["id"].to(str)),
                rx.hstack(rx.dialog.close(rx.button("Close", variant="soft")), justify="end", width="100%"),
                spacing="3", width="100%", min_width="0",
            ),
            max_width="min(48rem, calc(100vw - 1rem))",
            overflow_x="hidden",
        ),
        open=CatalogState.selected.length() > 0,
        on_open_change=CatalogState.set_detail_open,
    )


@console_page("/models", "Models", on_load=CatalogState.load)
def models() -> rx.Component:
    return rx.vstack(
        rx.text("Every model is called through the same /v1 endpoint with any OpenAI SDK. "
                "Prices are in credits; you pay only for successful calls.", size="2", color_scheme="gray"),
        rx.grid(
            labelled("Search models", "model-search",
                     rx.input(id="model-search", value=CatalogState.search, on_change=CatalogState.set_search,
                              placeholder="id, name or type", width="100%")),
            filter_select("Capability", "capability", CatalogState.capabilities, CatalogState.capability,
                          on_change=CatalogState.set_capability),
            columns=rx.breakpoints(initial="1", sm="2"), spacing="3", width="100%",
        ),
        data_table(["Model", "Type", "Capabilities", "Price", "Status", ""], CatalogState.visible, _row,
                   label="Models", empty="No model matches.", loading=~CatalogState.loaded),
        _detail(),
        spacing="4", width="100%",
    )
