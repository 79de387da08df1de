"""/settings: profile, password, active sessions, webhook secret."""

from __future__ import annotations

import reflex as rx

from apiany.ui.components.forms import error_callout, text_field
from apiany.ui.components.tables import data_table, loading_box, moment_local
from apiany.ui.layouts.shell import console_page
from apiany.ui.state.auth import SessionState
from apiany.ui.state.settings import SettingsState as S


def _card(title: str, *children) -> rx.Component:
    return rx.card(rx.vstack(rx.heading(title, size="4", as_="h2"), *children, spacing="3", width="100%"),
                   width="100%", size="3")


def _profile() -> rx.Component:
    return _card(
        "Profile",
        rx.text("Email: ", rx.text.strong(SessionState.email), " · member since ", S.member_since, size="2"),
        rx.form(rx.vstack(
            text_field("Display name", "display_name", required=False, default_value=S.display_name,
                       max_length=200),
            rx.button("Save profile", type="submit"), spacing="3", align="start", width="100%"),
            on_submit=S.save_profile, reset_on_submit=False, width="100%"),
    )


def _password() -> rx.Component:
    return _card(
        "Password",
        rx.text("Changing it signs out every other browser.", size="2", color_scheme="gray"),
        rx.form(rx.vstack(
            error_callout(S.password_error),
            text_field("Current password", "old_password", type="password", autocomplete="current-password"),
            text_field("New password", "new_password", type="password", autocomplete="new-password",
                       min_length=8, hint="At least 8 characters."),
            text_field("Confirm new password", "confirm_password", type="password", autocomplete="new-password"),
            rx.button("Change password", type="submit"), spacing="3", align="start", width="100%"),
            on_submit=S.change_password, reset_on_submit=True, width="100%"),
    )


def _session_row(s: rx.Var) -> rx.Component:
    return rx.table.row(
        rx.table.row_header_cell(rx.hstack(rx.text(s["agent"], size="1"),
                                           rx.cond(s["current"] != "", rx.badge("this browser", color_scheme="grass")),
                                           spacing="2", wrap="wrap")),
        rx.table.cell(s["ip"]), rx.table.cell(moment_local(s["created"])), rx.table.cell(moment_local(s["seen"])),
    )


def _sessions() -> rx.Component:
    return _card(
        "Active sessions",
        data_table(["Browser", "IP", "Signed in", "Last seen"], S.sessions, _session_row, label="Active sessions",
                   empty="No active sessions."),
        rx.alert_dialog.root(
            rx.alert_dialog.trigger(rx.button("Sign out everywhere else", color_scheme="red", variant="soft")),
            rx.alert_dialog.content(
                rx.alert_dialog.title("Sign out every other session?"),
                rx.alert_dialog.description("Every other browser signed in to your account must log in again."),
                rx.hstack(rx.alert_dialog.cancel(rx.button("Cancel", variant="soft", color_scheme="gray")),
                          rx.alert_dialog.action(rx.button("Sign out others", color_scheme="red",
                                                           on_click=S.sign_out_everywhere)),
                          justify="end", spacing="3", margin_top="1rem"),
            ),
        ),
    )


def _webhook() -> rx.Component:
    return _card(
        "Webhook secret",
        rx.text("Signs the callbacks we send when an async task (video, long image jobs) finishes. "
                "Verify the signature with this secret; see the docs.", size="2", color_scheme="gray"),
        rx.cond(S.new_webhook_secret != "",
                rx.vstack(rx.callout("Copy the new secret now: it is shown once. The old one stopped working.",
                                     icon="triangle_alert", color_scheme="amber", width="100%"),
                          rx.hstack(rx.input(value=S.new_webhook_secret, read_only=True, aria_label="New webhook secret",
                                             width="100%", font_family="var(--code-font-family)"),
                                    rx.icon_button(rx.icon("copy", size=16), aria_label="Copy webhook secret",
                                                   on_click=[rx.set_clipboard(S.new_webhook_secret),
                                                             rx.toast.success("Copied")]), width="100%"),
                          width="100%"),
                rx.text(rx.cond(S.webhook_hint != "", "Current secret: " + S.webhook_hint, "No secret yet."),
                        size="2")),
        rx.alert_dialog.root(
            rx.alert_dialog.trigger(rx.button("Rotate webhook secret", variant="soft")),
            rx.alert_dialog.content(
                rx.alert_dialog.title("Rotate the webhook secret?"),
                rx.alert_dialog.description("Callbacks are signed with the new secret at once; "
                                            "update your verifier right after."),
                rx.hstack(rx.alert_dialog.cancel(rx.button("Cancel", variant="soft", color_scheme="gray")),
                          rx.alert_dialog.action(rx.button("Rotate", on_click=S.rotate_webhook)),
                          justify="end", spacing="3", margin_top="1rem"),
            ),
        ),
    )


@console_page("/settings", "Settings", on_load=S.load)
def settings() -> rx.Component:
    return rx.cond(S.loaded_for == SessionState.user_id,
                   rx.vstack(_profile(), _password(), _sessions(), _webhook(), spacing="4", width="100%"),
                   loading_box("Loading settings"))
