"""Form building blocks. `native_form` is a plain HTML <form> that really posts
(Reflex's rx.form always prevents the default submit and sends an event
instead, which cannot receive an HttpOnly cookie)."""

from __future__ import annotations

import reflex as rx
from reflex_components_core.el.elements.base import BaseHTML


class NativeForm(BaseHTML):
    """<form action=... method=...> with no Reflex submit handler."""

    tag = "form"
    action: rx.Var[str]
    method: rx.Var[str]
    auto_complete: rx.Var[str]


def native_form(*children, action: str, method: str = "post", **props) -> rx.Component:
    return NativeForm.create(*children, action=action, method=method, **props)


def text_field(label: str, name: str, *, type: str = "text", autocomplete: str = "",
               required: bool = True, hint: str = "", **props) -> rx.Component:
    """A labelled input; the <label for> gives it its accessible name."""
    field_id = f"field-{name}"
    if autocomplete:
        props["auto_complete"] = autocomplete
    if hint:
        props["aria_describedby"] = f"{field_id}-hint"
    return rx.vstack(
        rx.el.label(label, html_for=field_id, class_name="text-sm font-medium"),
        rx.input(id=field_id, name=name, type=type, required=required, size="3", width="100%", **props),
        rx.text(hint, id=f"{field_id}-hint", size="1", color_scheme="gray") if hint else rx.fragment(),
        spacing="1",
        width="100%",
    )


def hidden_field(name: str, value: rx.Var | str) -> rx.Component:
    return rx.el.input(type="hidden", name=name, value=value)


def error_callout(message: rx.Var[str]) -> rx.Component:
    """Shown only when `message` is not empty; announced to screen readers."""
    return rx.cond(
        message != "",
        rx.callout(message, icon="triangle_alert", color_scheme="red", role="alert", width="100%"),
    )


def submit_button(label: str, **props) -> rx.Component:
    return rx.button(label, type="submit", size="3", width="100%", **props)
