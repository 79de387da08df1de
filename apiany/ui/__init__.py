"""Reflex console: state (calls services), components, layouts, pages."""
