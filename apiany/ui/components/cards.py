"""Cards for numbers and shortcuts."""

from __future__ import annotations

import reflex as rx


def stat_card(label: str, value: rx.Var | str, *, icon: str, detail: rx.Component | None = None,
              test_id: str = "") -> rx.Component:
    """A labelled figure. The figure's element is named by the label (aria-labelledby)."""
    label_id = f"stat-{test_id or label.lower().replace(' ', '-')}"
    extra = {"data_testid": test_id} if test_id else {}
    return rx.card(
        rx.vstack(
            rx.hstack(
                rx.icon(icon, size=16, color=rx.color("gray", 10)),
                rx.text(label, id=label_id, size="2", weight="medium", color_scheme="gray"),
                spacing="2",
                align="center",
            ),
            rx.text(value, size="7", weight="bold", aria_labelledby=label_id,
                    style={"font_variant_numeric": "tabular-nums"}, **extra),
            detail or rx.fragment(),
            spacing="2",
        ),
        size="2",
        width="100%",
        height="100%",
    )


def shortcut_card(title: str, description: str, *, href: str, icon: str) -> rx.Component:
    """A whole-card link; its accessible name is the title."""
    return rx.link(
        rx.card(
            rx.hstack(
                rx.center(rx.icon(icon, size=20), background=rx.color("accent", 3),
                          color=rx.color("accent", 11), border_radius="var(--radius-3)",
                          width="2.5rem", height="2.5rem", flex_shrink="0"),
                rx.vstack(
                    rx.text(title, size="3", weight="bold", color=rx.color("gray", 12)),
                    rx.text(description, size="2", color_scheme="gray"),
                    spacing="1",
                ),
                spacing="3",
                align="center",
            ),
            size="2",
            width="100%",
            height="100%",
            _hover={"border_color": rx.color("accent", 8)},
        ),
        href=href,
        underline="none",
        width="100%",
        height="100%",
        aria_label=title,
    )
