"""/: the dashboard for a signed-in visitor, else the login page."""

from __future__ import annotations

import reflex as rx

from apiany.ui.state.auth import SessionState


@rx.page(route="/", title="APIAny", on_load=SessionState.go_home)
def index() -> rx.Component:
    return rx.center(rx.spinner(size="3"), min_height="100vh", aria_label="Loading")
