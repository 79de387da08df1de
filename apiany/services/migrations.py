"""Apply Alembic migrations from code (CLI, `make run`, tests)."""

from __future__ import annotations

from alembic import command
from alembic.config import Config

from apiany.core.settings import ROOT, get_settings


def alembic_config(url: str | None = None) -> Config:
    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(ROOT / "alembic"))
    cfg.attributes["skip_logging"] = True
    cfg.cmd_opts = None
    if url:
        cfg.set_main_option("sqlalchemy.url", url)
    return cfg


def upgrade_to_head(url: str | None = None) -> None:
    url = url or get_settings().database_url
    cfg = alembic_config(url)
    from apiany.core.db import get_engine

    with get_engine(url).connect() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, "head")
