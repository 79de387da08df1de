"""/keys: the user's API keys; create (shown once), edit, disable/enable, revoke."""

from __future__ import annotations

import reflex as rx

from apiany.ui.components.tables import data_table, labelled, loading_box
from apiany.ui.layouts.shell import console_page
from apiany.ui.state.auth import SessionState
from apiany.ui.state.keys import KeysState

HEADERS = ["Name", "App / purpose", "Key", "Status", "Budget used / limit", "RPM", "Models", "Logging",
           "Expires", "Last used", "Actions"]
STATUS_COLORS = {"active": "grass", "disabled": "amber", "revoked": "red"}


def _field(label: str, name: str, *, hint: str = "", **props) -> rx.Component:
    fid = f"key-{name}"
    control = rx.input(id=fid, name=name, default_value=KeysState.form[name], width="100%",
                       aria_describedby=f"{fid}-error", **props)
    box = labelled(label, fid, control, KeysState.errors[name].to(str))
    return rx.vstack(box, rx.text(hint, size="1", color_scheme="gray"), spacing="1", width="100%") if hint else box


def _key_form() -> rx.Component:
    period = rx.el.select(rx.el.option("No reset", value="none"), rx.el.option("Resets monthly", value="monthly"),
                          id="key-budget_period", name="budget_period", default_value=KeysState.form["budget_period"])
    return rx.form(
        rx.vstack(
            _field("Name", "name", required=True, max_length=100),
            rx.grid(_field("App name", "app_name", max_length=100), _field("Purpose", "purpose", max_length=500),
                    columns=rx.breakpoints(initial="1", sm="2"), spacing="3", width="100%"),
            rx.grid(_field("Budget (credits)", "budget", hint="Empty = no budget.", input_mode="decimal"),
                    labelled("Budget reset", "key-budget_period", period),
                    columns=rx.breakpoints(initial="1", sm="2"), spacing="3", width="100%"),
            rx.grid(_field("Requests per minute", "rpm_limit", hint="Empty = no limit.", input_mode="numeric"),
                    _field("Expires on", "expires_at", type="date"),
                    columns=rx.breakpoints(initial="1", sm="2"), spacing="3", width="100%"),
            _field("Model scope", "model_scope", hint="Comma-separated model ids. Empty = all models.",
                   placeholder="sandbox-chat, sandbox-embed"),
            rx.el.label(rx.hstack(rx.el.input(type="checkbox", name="log_content", id="key-log_content",
                                              default_checked=KeysState.form["log_content"] != ""),
                                  rx.text("Log request and response bodies (kept for the retention window)",
                                          size="2"), spacing="2", align="center")),
            rx.hstack(rx.dialog.close(rx.button("Cancel", variant="soft", color_scheme="gray", type="button")),
                      rx.button(rx.cond(KeysState.editing_id == 0, "Create key", "Save changes"),
                                type="submit", loading=KeysState.saving),
                      justify="end", width="100%", spacing="3"),
            spacing="3",
        ),
        on_submit=KeysState.save,
        reset_on_submit=False,
    )


def _form_dialog() -> rx.Component:
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title(rx.cond(KeysState.editing_id == 0, "Create API key", "Edit API key")),
            rx.dialog.description("Limits apply to this key only.", size="2", color_scheme="gray",
                                  margin_bottom="1rem"),
            _key_form(),
            max_width="36rem",
        ),
        open=KeysState.form_open,
        on_open_change=KeysState.set_form_open,
    )


def _secret_dialog() -> rx.Component:
    return rx.alert_dialog.root(
        rx.alert_dialog.content(
            rx.alert_dialog.title("Your new API key"),
            rx.vstack(
                rx.callout("Copy it now: it is shown once and cannot be recovered. Treat it like a password.",
                           icon="triangle_alert", color_scheme="amber", width="100%"),
                rx.hstack(
                    rx.input(value=KeysState.new_secret, read_only=True, aria_label="New API key",
                             width="100%", font_family="var(--code-font-family)"),
                    rx.icon_button(rx.icon("copy", size=16), aria_label="Copy key",
                                   on_click=[rx.set_clipboard(KeysState.new_secret),
                                             rx.toast.success("Key copied")]),
                    width="100%",
                ),
                rx.hstack(rx.alert_dialog.action(rx.button("I have copied it", on_click=KeysState.close_secret)),
                          justify="end", width="100%"),
                spacing="3",
            ),
        ),
        open=KeysState.new_secret != "",
    )


def _revoke_dialog() -> rx.Component:
    return rx.alert_dialog.root(
        rx.alert_dialog.content(
            rx.alert_dialog.title("Revoke key?"),
            rx.alert_dialog.description(
                "Programs using “", KeysState.revoke_name, "” stop working at once. This cannot be undone."),
            rx.hstack(
                rx.alert_dialog.cancel(rx.button("Cancel", variant="soft", color_scheme="gray",
                                                 on_click=KeysState.cancel_revoke)),
                rx.alert_dialog.action(rx.button("Revoke key", color_scheme="red", on_click=KeysState.confirm_revoke)),
                justify="end", spacing="3", margin_top="1rem",
            ),
        ),
        open=KeysState.revoke_id != 0,
    )


def _actions(key: rx.Var) -> rx.Component:
    live = key["status"] != "revoked"
    return rx.cond(live, rx.hstack(
        rx.button("Edit", size="1", variant="soft", aria_label="Edit " + key["name"],
                  on_click=KeysState.open_edit(key["id"])),
        rx.cond(key["status"] == "active",
                rx.button("Disable", size="1", variant="soft", color_scheme="amber",
                          aria_label="Disable " + key["name"],
                          on_click=KeysState.set_status(key["id"], "disabled")),
                rx.button("Enable", size="1", variant="soft", color_scheme="grass",
                          aria_label="Enable " + key["name"],
                          on_click=KeysState.set_status(key["id"], "active"))),
        rx.button("Revoke", size="1", variant="soft", color_scheme="red", aria_label="Revoke " + key["name"],
                  on_click=KeysState.ask_revoke(key["id"], key["name"])),
        spacing="2"), rx.text("—"))


def _row(key: rx.Var) -> rx.Component:
    cell = rx.table.cell
    return rx.table.row(
        rx.table.row_header_cell(rx.text(key["name"], weight="medium")),
        cell(rx.vstack(rx.text(key["app_name"], size="1"), rx.text(key["purpose"], size="1", color_scheme="gray"),
                       spacing="0")),
        cell(rx.code(key["display"], size="1"), white_space="nowrap"),
        cell(rx.badge(key["status"], color_scheme=rx.match(key["status"], *STATUS_COLORS.items(), "gray"))),
        cell(key["budget_text"], white_space="nowrap"),
        cell(key["rpm_text"]),
        cell(key["scope_text"]),
        cell(key["logging_text"]),
        cell(key["expires_text"], white_space="nowrap"),
        cell(key["last_used_text"], white_space="nowrap"),
        cell(_actions(key)),
    )


@console_page("/keys", "API keys", on_load=KeysState.load)
def keys() -> rx.Component:
    return rx.vstack(
        rx.hstack(
            rx.text("Keys authenticate calls to the OpenAI-compatible /v1 endpoint. Keep them secret.",
                    size="2", color_scheme="gray"),
            rx.spacer(),
            rx.button(rx.icon("plus", size=16), "Create key", on_click=KeysState.open_create),
            width="100%", align="center", wrap="wrap", spacing="3",
        ),
        rx.cond(KeysState.loaded_for == SessionState.user_id,
                data_table(HEADERS, KeysState.keys, _row, label="API keys",
                           empty="No keys yet. Create one to start calling models."),
                loading_box("Loading keys")),
        _form_dialog(), _secret_dialog(), _revoke_dialog(),
        spacing="4", width="100%",
    )
