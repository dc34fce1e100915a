"""The service's one settings class: environment variables with the MEDCITE_ prefix."""
from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from index.manifest import default_index_dir  # one definition of the default, shared with the CLI


class Settings(BaseSettings):
    """Everything the HTTP service can be configured with (env prefix MEDCITE_)."""

    model_config = SettingsConfigDict(env_prefix="MEDCITE_", extra="ignore")

    index: Path = Field(default_factory=default_index_dir, description="index directory")
    model: str | None = Field(None, description="sentence-transformers name or path; 'fake' for tests")
    api_key: SecretStr | None = Field(None, description="bearer token for write endpoints; unset disables them")
    cors_origins: str = Field("", description="comma-separated allowed origins; empty turns CORS off")
    max_in_flight: int = Field(32, ge=1, description="requests admitted at once before 503 + Retry-After")
    cpu_workers: int = Field(2, ge=1, description="threads running search and model inference")
    max_body_bytes: int = Field(64 * 1024, ge=1, description="largest request body (413 beyond)")
    max_upload_bytes: int = Field(20 * 1024 * 1024, ge=1, description="largest POST /documents upload")
    retry_after_s: int = Field(1, ge=1, description="Retry-After seconds sent with 503")
    log_questions: bool = Field(False, description="log question text at INFO (may contain patient details)")
    disclaimer: str | None = Field(None, description="override the answer disclaimer")
    graceful_shutdown_s: int = Field(10, ge=0, description="how long shutdown waits for in-flight requests")

    def origins(self) -> list[str]:
        """The CORS origins as a list (empty: CORS stays off)."""
        return [o.strip() for o in self.cors_origins.split(",") if o.strip()]

    def key(self) -> str | None:
        """The API key as plain text, or None when write endpoints are disabled."""
        value = self.api_key.get_secret_value() if self.api_key else ""
        return value or None
