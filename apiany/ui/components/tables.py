"""Tables, pagers, filter fields and code samples shared by the console pages."""

from __future__ import annotations

from collections.abc import Callable

import reflex as rx


VISUALLY_HIDDEN = {"position": "absolute", "width": "1px", "height": "1px", "overflow": "hidden",
                   "clip": "rect(0 0 0 0)", "white_space": "nowrap"}


def loading_box(label: str) -> rx.Component:
    return rx.center(rx.spinner(size="3"), width="100%", padding_y="2rem", aria_label=label)


def data_table(headers: list[str], rows: rx.Var, render_row: Callable, *, label: str,
               empty: str, loading: rx.Var[bool] | bool = False) -> rx.Component:
    """A scrollable table named `label`, with an empty state and a loading state."""
    table = rx.table.root(
        rx.el.caption(label, style=VISUALLY_HIDDEN),  # names the <table> for assistive tech
        rx.table.header(rx.table.row(*[rx.table.column_header_cell(h, white_space="nowrap") for h in headers])),
        rx.table.body(rx.foreach(rows, render_row)),
        variant="surface",
        size="1",
        width="100%",
        min_width="44rem",  # phones scroll the table sideways instead of squeezing columns
    )
    return rx.cond(
        loading, loading_box(f"Loading {label.lower()}"),
        rx.cond(rows.length() > 0, rx.box(table, width="100%", overflow_x="auto"),
                rx.card(rx.text(empty, color_scheme="gray", size="2"), width="100%")),
    )


def pager(state) -> rx.Component:
    """Previous / next for a state using PagedMixin."""
    return rx.hstack(
        rx.text(state.total_text, size="2", color_scheme="gray", data_testid="row-count"),
        rx.spacer(),
        rx.button(rx.icon("chevron_left", size=16), "Previous", variant="soft", size="1",
                  disabled=~state.has_prev, on_click=state.prev_page),
        rx.text("Page ", state.page, " of ", state.page_count, size="2"),
        rx.button("Next", rx.icon("chevron_right", size=16), variant="soft", size="1",
                  disabled=~state.has_next, on_click=state.next_page),
        align="center", spacing="2", width="100%", wrap="wrap",
    )


def labelled(label: str, control_id: str, control: rx.Component, error: rx.Var | None = None) -> rx.Component:
    """A control with a <label for> and an optional validation message under it."""
    parts = [rx.el.label(label, html_for=control_id, class_name="text-sm font-medium"), control]
    if error is not None:
        parts.append(rx.cond(error != "", rx.text(error, id=f"{control_id}-error", size="1", color_scheme="red",
                                                  role="alert")))
    return rx.vstack(*parts, spacing="1", width="100%")


def filter_input(label: str, name: str, value: rx.Var, *, type: str = "text", **props) -> rx.Component:
    fid = f"filter-{name}"
    return labelled(label, fid, rx.input(id=fid, name=name, type=type, default_value=value, size="2",
                                         width="100%", **props))


def filter_select(label: str, name: str, options: rx.Var | list[str], value: rx.Var, **props) -> rx.Component:
    """A native <select> (first option '' = any) so it posts with the form and has a real label."""
    fid = f"filter-{name}"
    select = rx.el.select(
        rx.el.option("Any", value=""),
        rx.foreach(options, lambda o: rx.el.option(o, value=o)),
        id=fid, name=name, default_value=value, **props,
        style={"width": "100%", "padding": "0.35rem", "border_radius": "var(--radius-2)",
               "border": f"1px solid {rx.color('gray', 7)}", "background": rx.color("gray", 1),
               "color": rx.color("gray", 12), "font_size": "var(--font-size-2)"},
    )
    return labelled(label, fid, select)


def code_sample(code: rx.Var | str, label: str) -> rx.Component:
    return rx.box(
        rx.hstack(rx.spacer(), rx.icon_button(rx.icon("copy", size=14), size="1", variant="ghost",
                                             aria_label=f"Copy {label}",
                                             on_click=[rx.set_clipboard(code), rx.toast.success("Copied")])),
        rx.el.pre(rx.el.code(code), aria_label=label,
                  style={"margin": 0, "white_space": "pre", "overflow_x": "auto", "font_size": "0.8rem",
                         "font_family": "var(--code-font-family)"}),
        padding="0.75rem", border_radius="var(--radius-3)", background=rx.color("gray", 3), width="100%",
        min_width="0", max_width="100%", overflow_x="auto",
    )


def code_tabs(samples: rx.Var | dict, title: str) -> rx.Component:
    """curl / Python / JavaScript tabs; `samples` maps language -> code."""
    langs = ("curl", "Python", "JavaScript")
    return rx.tabs.root(
        rx.tabs.list(*[rx.tabs.trigger(lang, value=lang) for lang in langs], aria_label=f"{title} examples"),
        *[rx.tabs.content(code_sample(samples[lang], f"{title} {lang} example"), value=lang, padding_top="0.5rem")
          for lang in langs],
        default_value="curl",
        width="100%",
        min_width="0",
        max_width="100%",
    )


def moment_local(iso: rx.Var) -> rx.Component:
    """An ISO time shown in the browser's own time zone."""
    return rx.cond(iso != "", rx.moment(iso, format="YYYY-MM-DD HH:mm:ss", local=True), rx.text("—"))
