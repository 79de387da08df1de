"""The one settings object. Every knob is an `APIANY_*` environment variable
(Stripe's keep their conventional names); `.env.example` documents each."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import AliasChoices, Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[2]


class SettingsError(RuntimeError):
    """Raised at start-up when a variable cannot be used; names the variable."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="APIANY_", env_file=ROOT / ".env", extra="ignore", validate_default=True
    )

    database_url: str = f"sqlite:///{ROOT / 'data' / 'apiany.db'}"
    redis_url: str | None = None
    port: int = Field(3000, ge=1, le=65535)
    public_base_url: str | None = None
    sandbox: bool = False
    sandbox_base_url: str | None = None
    jobs: bool = True
    env: str = "dev"

    admin_email: str | None = None
    admin_password: str | None = None

    free_credits: int = Field(100, ge=0)
    free_credits_expiry_days: int = Field(30, ge=0)
    session_ttl_hours: int = Field(24 * 14, ge=1)
    login_max_failures: int = Field(5, ge=1)
    login_lockout_base_seconds: float = Field(1.0, ge=0)
    login_lockout_max_seconds: float = Field(300.0, ge=0)

    hold_ttl_seconds: int = Field(600, ge=10)
    clawback_limit_credits: int = Field(1000, ge=0)
    body_retention_days: int = Field(30, ge=0)
    max_request_bytes: int = Field(10 * 1024 * 1024, ge=1024)
    max_upload_bytes: int = Field(25 * 1024 * 1024, ge=1024)
    upstream_timeout_seconds: float = Field(120.0, gt=0)
    upstream_connect_timeout_seconds: float = Field(10.0, gt=0)
    channel_failure_threshold: int = Field(3, ge=1)
    channel_cooldown_seconds: int = Field(30, ge=1)
    default_max_output_tokens: int = Field(4096, ge=1)

    stripe_secret_key: str | None = Field(
        None, validation_alias=AliasChoices("STRIPE_SECRET_KEY", "APIANY_STRIPE_SECRET_KEY")
    )
    stripe_webhook_secret: str | None = Field(
        None, validation_alias=AliasChoices("STRIPE_WEBHOOK_SECRET", "APIANY_STRIPE_WEBHOOK_SECRET")
    )
    stripe_api_base: str | None = Field(
        None, validation_alias=AliasChoices("STRIPE_API_BASE", "APIANY_STRIPE_API_BASE")
    )
    stripe_webhook_tolerance_seconds: int = Field(300, ge=1)
    reconcile_pending_minutes: int = Field(30, ge=1)

    # Internal jobs (apiany/jobs): per-job interval overrides in seconds as
    # JSON, e.g. {"check_channels": 30}; how long a run's lease lasts; batch
    # sizes; the channel probe timeout; the finance reporting currency.
    job_intervals: dict[str, int] = Field(default_factory=dict)
    job_lease_seconds: int = Field(900, ge=10)
    job_start_delay_seconds: float = Field(5.0, ge=0)
    job_batch_size: int = Field(500, ge=1)
    job_run_retention_days: int = Field(30, ge=1)
    channel_probe_timeout_seconds: float = Field(10.0, gt=0)
    finance_currency: str = Field("usd", min_length=3, max_length=3)

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: str) -> str:
        try:
            url = make_url(value)
        except Exception as exc:  # sqlalchemy raises ArgumentError
            raise ValueError(f"not a database URL: {exc}") from exc
        if url.get_backend_name() not in ("sqlite", "postgresql"):
            raise ValueError("only sqlite:/// and postgresql+psycopg:// URLs are supported")
        return value

    @field_validator("redis_url", "public_base_url", "stripe_api_base", "sandbox_base_url")
    @classmethod
    def _check_url(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        if "://" not in value:
            raise ValueError("must be a URL such as redis://127.0.0.1:6379/0")
        return value.rstrip("/")

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def sandbox_url(self) -> str:
        """Where `{sandbox}` in a channel's base URL points: the sandbox mounted
        in this app, unless APIANY_SANDBOX_BASE_URL names another one."""
        return self.sandbox_base_url or f"http://127.0.0.1:{self.port}/sandbox"

    @property
    def base_url(self) -> str:
        return self.public_base_url or f"http://localhost:{self.port}"


def load_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            field = str(err["loc"][0]) if err["loc"] else "?"
            name = field.upper() if field.startswith(("STRIPE_", "APIANY_")) else f"APIANY_{field.upper()}"
            problems.append(f"{name}: {err['msg']}")
        raise SettingsError("invalid configuration: " + "; ".join(problems)) from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()


def reset_settings() -> None:
    """Tests change the environment and call this to re-read it."""
    get_settings.cache_clear()
