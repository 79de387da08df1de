"""/signup: a native form posting to /api/auth/signup (free credits, no card)."""

from __future__ import annotations

import reflex as rx

from apiany.ui.components.forms import text_field
from apiany.ui.layouts.auth import auth_form, auth_layout
from apiany.ui.state.auth import AuthFormState


def _perk(text: str) -> rx.Component:
    return rx.hstack(rx.icon("circle_check", size=16, color=rx.color("grass", 10)),
                     rx.text(text, size="2"), spacing="2", align="center")


@rx.page(route="/signup", title="Sign up · APIAny", on_load=AuthFormState.load)
def signup() -> rx.Component:
    form = auth_form(
        "/api/auth/signup",
        "Create account",
        rx.callout("Free credits, no card required.", icon="gift", color_scheme="grass", width="100%"),
        text_field("Email", "email", type="email", autocomplete="email"),
        text_field("Name", "display_name", autocomplete="name", required=False,
                   hint="Optional. Shown in your console."),
        text_field("Password", "password", type="password", autocomplete="new-password",
                   min_length=8, hint="At least 8 characters."),
    )
    perks = rx.vstack(_perk("One OpenAI-compatible endpoint for every model"),
                      _perk("Pay only for successful calls"), spacing="1")
    footer = rx.vstack(perks, rx.text("Already have an account? ", rx.link("Log in", href="/login"), size="2"),
                       spacing="4", align="center")
    return auth_layout("Create your account", "Start calling models in a minute.", form, footer)
