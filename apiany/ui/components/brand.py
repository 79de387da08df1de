"""The product mark."""

from __future__ import annotations

import reflex as rx


def brand(size: str = "5") -> rx.Component:
    return rx.link(
        rx.hstack(
            rx.center(rx.icon("zap", size=18, color="white"), background=rx.color("accent", 9),
                      border_radius="var(--radius-2)", width="2rem", height="2rem"),
            rx.text("APIAny", size=size, weight="bold", color=rx.color("gray", 12)),
            spacing="2",
            align="center",
        ),
        href="/",
        underline="none",
        aria_label="APIAny home",
    )
