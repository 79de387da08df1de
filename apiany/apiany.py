"""Composition root: the only module that imports api, ui and jobs together."""

import reflex as rx

from apiany.api.app import create_api
from apiany.ui.pages import dashboard, index, login, signup  # noqa: F401  (registers the pages)

app = rx.App(api_transformer=create_api())
