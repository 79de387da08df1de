"""The signed-out layout: one centered card (login, signup)."""

from __future__ import annotations

import reflex as rx

from apiany.ui.components.brand import brand
from apiany.ui.components.forms import error_callout, hidden_field, native_form, submit_button
from apiany.ui.state.auth import AuthFormState


def auth_layout(title: str, subtitle: str, body: rx.Component, footer: rx.Component) -> rx.Component:
    return rx.center(
        rx.vstack(
            rx.center(brand(), width="100%"),
            rx.card(
                rx.vstack(
                    rx.vstack(
                        rx.heading(title, size="6", as_="h1"),
                        rx.text(subtitle, size="2", color_scheme="gray"),
                        spacing="1",
                    ),
                    body,
                    spacing="5",
                    width="100%",
                ),
                size="4",
                width="100%",
            ),
            rx.center(footer, width="100%"),
            spacing="5",
            width="100%",
            max_width="26rem",
        ),
        min_height="100vh",
        width="100%",
        padding="1rem",
        background=rx.color("gray", 2),
    )


def auth_form(action: str, submit_label: str, *fields: rx.Component) -> rx.Component:
    """The native form both pages use: the `?error=` message, the fields, the
    `next` path carried through, and the submit button."""
    return native_form(
        rx.vstack(
            error_callout(AuthFormState.error),
            *fields,
            hidden_field("next", AuthFormState.next_path),
            submit_button(submit_label),
            spacing="4",
            width="100%",
        ),
        action=action,
        aria_label=submit_label,
        width="100%",
    )
