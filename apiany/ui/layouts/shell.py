"""The signed-in console's page shell: sidebar (desktop), top bar with a menu
(phone), the page heading, and the login guard.

    @console_page("/keys", "API keys", on_load=KeysState.load)
    def keys() -> rx.Component: ...

wraps the content in the shell and registers the page with
`SessionState.require_login` (or `require_admin` with admin=True) running
first on load.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence

import reflex as rx

from apiany.ui.components.brand import brand
from apiany.ui.components.forms import native_form
from apiany.ui.layouts.nav import ADMIN_NAV, USER_NAV, NavItem
from apiany.ui.state.auth import SessionState

SIDEBAR_WIDTH = "15rem"
DESKTOP_ONLY = ["none", "none", "flex"]
PHONE_ONLY = ["flex", "flex", "none"]


def _is_active(item: NavItem) -> rx.Var[bool]:
    return rx.State.router.route_id == item.route


def _nav_link(item: NavItem) -> rx.Component:
    active = _is_active(item)
    return rx.link(
        rx.hstack(
            rx.icon(item.icon, size=18),
            rx.text(item.label, size="2", weight="medium"),
            spacing="3",
            align="center",
            width="100%",
            padding_x="0.75rem",
            padding_y="0.5rem",
            border_radius="var(--radius-2)",
            background=rx.cond(active, rx.color("accent", 4), "transparent"),
            color=rx.cond(active, rx.color("accent", 11), rx.color("gray", 11)),
            _hover={"background": rx.color("gray", 4), "color": rx.color("gray", 12)},
        ),
        href=item.route,
        underline="none",
        width="100%",
        aria_current=rx.cond(active, "page", "false"),
    )


def _section_label(text: str) -> rx.Component:
    return rx.text(text, size="1", weight="bold", color_scheme="gray", padding_x="0.75rem",
                   padding_top="1rem", text_transform="uppercase", letter_spacing="0.05em")


def _sidebar_nav() -> rx.Component:
    return rx.vstack(
        rx.el.nav(rx.vstack(*[_nav_link(i) for i in USER_NAV], spacing="1"), aria_label="Console",
                  width="100%"),
        rx.cond(
            SessionState.is_admin,
            rx.el.nav(rx.vstack(_section_label("Admin"), *[_nav_link(i) for i in ADMIN_NAV], spacing="1"),
                      aria_label="Admin", width="100%"),
        ),
        spacing="1",
        width="100%",
    )


def logout_button(compact: bool = False) -> rx.Component:
    """A real form post: /api/auth/logout ends the session, clears the cookie, 303 -> /login."""
    button = (rx.icon_button(rx.icon("log_out", size=18), type="submit", variant="soft",
                             color_scheme="gray", aria_label="Log out", title="Log out")
              if compact else
              rx.button(rx.icon("log_out", size=16), "Log out", type="submit", variant="soft",
                        color_scheme="gray", width="100%"))
    return native_form(button, action="/api/auth/logout", **({} if compact else {"width": "100%"}))


def theme_toggle() -> rx.Component:
    """Light / dark, remembered by the browser."""
    return rx.icon_button(
        rx.color_mode_cond(light=rx.icon("moon", size=16), dark=rx.icon("sun", size=16)),
        on_click=rx.toggle_color_mode, variant="ghost", size="1",
        aria_label="Switch between light and dark mode",
    )


def _account_box() -> rx.Component:
    return rx.vstack(
        rx.divider(),
        rx.text(SessionState.email, size="2", weight="medium", width="100%", white_space="nowrap",
                overflow="hidden", text_overflow="ellipsis", title=SessionState.email),
        rx.hstack(
            rx.badge(SessionState.role, variant="soft", color_scheme=rx.cond(SessionState.is_admin, "orange", "gray")),
            rx.spacer(),
            theme_toggle(),
            align="center", width="100%",
        ),
        logout_button(),
        spacing="3",
        width="100%",
    )


def sidebar() -> rx.Component:
    return rx.el.aside(
        rx.vstack(
            rx.box(brand(), padding_x="0.5rem", padding_bottom="1rem"),
            _sidebar_nav(),
            rx.spacer(),
            _account_box(),
            height="100%",
            width="100%",
            padding="1rem",
            spacing="2",
        ),
        display=DESKTOP_ONLY,
        width=SIDEBAR_WIDTH,
        flex_shrink="0",
        height="100vh",
        position="sticky",
        top="0",
        overflow_y="auto",
        background=rx.color("gray", 2),
        border_right=f"1px solid {rx.color('gray', 5)}",
    )


def _menu_items(items: Sequence[NavItem]) -> list[rx.Component]:
    return [rx.menu.item(rx.hstack(rx.icon(i.icon, size=16), i.label, spacing="2", align="center"),
                         on_select=rx.redirect(i.route)) for i in items]


def topbar() -> rx.Component:
    """Phone widths: brand, a navigation menu and a compact logout button."""
    return rx.hstack(
        brand(size="4"),
        rx.spacer(),
        rx.menu.root(
            rx.menu.trigger(rx.icon_button(rx.icon("menu", size=18), variant="soft",
                                           aria_label="Open navigation")),
            rx.menu.content(
                *_menu_items(USER_NAV),
                rx.cond(SessionState.is_admin,
                        rx.fragment(rx.menu.separator(), rx.menu.item("Admin", disabled=True), *_menu_items(ADMIN_NAV))),
                align="end",
            ),
        ),
        theme_toggle(),
        logout_button(compact=True),
        display=PHONE_ONLY,
        align="center",
        spacing="2",
        width="100%",
        padding_x="1rem",
        padding_y="0.75rem",
        position="sticky",
        top="0",
        z_index="10",
        background=rx.color("gray", 1),
        border_bottom=f"1px solid {rx.color('gray', 5)}",
    )


def shell(content: rx.Component, title: str) -> rx.Component:
    """Nothing of the page renders until the visitor is known to be signed in."""
    return rx.flex(
        sidebar(),
        rx.box(
            topbar(),
            rx.el.main(
                rx.cond(
                    SessionState.is_authenticated,
                    rx.vstack(rx.heading(title, size="7", as_="h1"), content, spacing="5", width="100%"),
                    rx.center(rx.spinner(size="3"), padding_y="4rem", aria_label="Loading"),
                ),
                max_width="72rem",
                margin_x="auto",
                padding=["1rem", "1.5rem", "2rem"],
            ),
            flex="1",
            min_width="0",
        ),
        min_height="100vh",
        width="100%",
    )


def console_page(route: str, title: str, *, on_load: Sequence[Callable] | Callable = (),
                 admin: bool = False) -> Callable[[Callable[[], rx.Component]], Callable]:
    """Register `route` as a console page rendering the decorated content in the shell."""
    guard = SessionState.require_admin if admin else SessionState.require_login
    extra = list(on_load) if isinstance(on_load, Sequence) else [on_load]

    def decorator(content: Callable[[], rx.Component]) -> Callable[[], rx.Component]:
        @rx.page(route=route, title=f"{title} · APIAny", on_load=[guard, *extra])
        @functools.wraps(content)
        def page() -> rx.Component:
            return shell(content(), title)

        return page

    return decorator
