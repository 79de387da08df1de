"""/login: a native form posting to /api/auth/login (which sets the HttpOnly cookie)."""

from __future__ import annotations

import reflex as rx

from apiany.ui.components.forms import text_field
from apiany.ui.layouts.auth import auth_form, auth_layout
from apiany.ui.state.auth import AuthFormState


@rx.page(route="/login", title="Log in · APIAny", on_load=AuthFormState.load)
def login() -> rx.Component:
    form = auth_form(
        "/api/auth/login",
        "Log in",
        text_field("Email", "email", type="email", autocomplete="email"),
        text_field("Password", "password", type="password", autocomplete="current-password"),
    )
    footer = rx.text("New to APIAny? ", rx.link("Create an account", href="/signup"), size="2")
    return auth_layout("Log in", "Welcome back. Sign in to your console.", form, footer)
