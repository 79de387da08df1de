"""The console's navigation, as data. A new page plugs in by having its route
listed here (links to pages that do not exist yet are fine)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class NavItem:
    label: str
    route: str
    icon: str  # a lucide icon name, see rx.icon


USER_NAV: tuple[NavItem, ...] = (
    NavItem("Dashboard", "/dashboard", "layout_dashboard"),
    NavItem("API keys", "/keys", "key_round"),
    NavItem("Models", "/models", "boxes"),
    NavItem("Usage", "/usage", "activity"),
    NavItem("Credits", "/credits", "coins"),
    NavItem("Billing", "/billing", "credit_card"),
    NavItem("Docs", "/docs", "book_open"),
    NavItem("Settings", "/settings", "settings"),
)

ADMIN_NAV: tuple[NavItem, ...] = (
    NavItem("Users", "/admin/users", "users"),
    NavItem("Orders", "/admin/orders", "receipt"),
    NavItem("API models", "/admin/models", "cpu"),
    NavItem("Channels", "/admin/channels", "network"),
    NavItem("Costs", "/admin/costs", "calculator"),
    NavItem("Jobs", "/admin/jobs", "timer"),
    NavItem("Finance", "/admin/finance", "chart_line"),
)
