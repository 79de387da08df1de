import os

import reflex as rx

from apiany.core.settings import get_settings

_settings = get_settings()

config = rx.Config(
    app_name="apiany",
    db_url=_settings.database_url,
    redis_url=_settings.redis_url,
    frontend_port=_settings.port,
    backend_port=_settings.port,
    api_url=os.environ.get("API_URL", _settings.base_url),
    deploy_url=_settings.base_url,
    telemetry_enabled=False,
    show_built_with_reflex=False,
    plugins=[rx.plugins.SitemapPlugin(), rx.plugins.TailwindV4Plugin()],
)
