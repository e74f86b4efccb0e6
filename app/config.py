"""Service settings, read from the environment (prefix ``PASTURE_``) by :func:`get_settings`."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PASTURE_", extra="ignore")

    database_url: str = Field(
        default="sqlite:///pasture.db",
        description="sqlite:///path or postgresql://user@host:port/db; the driver is picked for you.",
    )
    api_token: SecretStr | None = Field(
        default=None, description="When set, every write endpoint requires 'Authorization: Bearer <token>'."
    )
    seed_dir: Path = Field(default=PROJECT_ROOT / "seed_tasks", description="Built-in seed sets (*.jsonl).")
    host: str = "127.0.0.1"
    port: int = 8000
    run_jobs: bool = Field(default=True, description="Run queued jobs inside the server process.")
    max_parallel_jobs: int = Field(default=4, ge=1)
    lease_seconds: float = Field(
        default=30.0, gt=0, description="A runner that stops heartbeating loses its jobs."
    )
    poll_seconds: float = Field(default=1.0, gt=0)
    shutdown_grace_seconds: float = Field(
        default=10.0, ge=0, description="On shutdown, how long to wait for replies already requested."
    )
    teacher_timeout: float = Field(
        default=120.0, gt=0, description="Seconds before one teacher call times out."
    )
    teacher_max_attempts: int = Field(
        default=6, ge=1, description="Tries per teacher call (429, 5xx, timeouts)."
    )
    teacher_backoff_max: float = Field(default=60.0, gt=0)
    max_barren_replies: int = Field(
        default=50, ge=0, description="Pause a job after this many replies in a row keep nothing (0: never)."
    )
    teacher_max_consecutive_failures: int = Field(
        default=5, ge=1, description="Calls in a row that fail after all retries before the job fails."
    )
    log_level: str = "INFO"

    # The teacher's credentials come from the openai client's own variables, never stored.
    openai_api_key: SecretStr | None = Field(default=None, validation_alias="OPENAI_API_KEY")
    openai_base_url: str | None = Field(default=None, validation_alias="OPENAI_BASE_URL")

    @field_validator("api_token", "openai_api_key", "openai_base_url", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("database_url")
    @classmethod
    def _normalise_database_url(cls, value: str) -> str:
        return normalise_database_url(value)


def normalise_database_url(url: str) -> str:
    """Pick the driver for plain URLs: psycopg 3 for PostgreSQL, pysqlite for SQLite."""
    url = url.strip()
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    if url.startswith("postgresql+psycopg2://"):
        return "postgresql+psycopg://" + url[len("postgresql+psycopg2://") :]
    return url


@lru_cache
def get_settings() -> Settings:
    return Settings()
