"""The one settings class: every MEDCITE_* environment variable, read here and nowhere else.

The core (ingest/, index/, the answer path) takes these values as keyword arguments; the edges (the
HTTP app, the CLI, eval scripts) build a Settings and pass them on.
"""
from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from index.bm25_postings import MMAP_BYTES
from index.manifest import DEFAULT_INDEX_DIR  # one definition of the default, shared with the CLI
from index.vectors import IVFPQ_MIN_VECTORS, VectorSettings

# How often a long ingest commits what it has done so far, so a killed run keeps most of its work. Set when
# checkpoints were added, not tuned: a commit copies the store and the vectors, so it must stay rare next
# to the work between two commits.
CHECKPOINT_S = 120.0


class Settings(BaseSettings):
    """Everything the HTTP service can be configured with (env prefix MEDCITE_)."""

    # empty variables count as unset, as they always did (`os.environ.get(...) or default`)
    model_config = SettingsConfigDict(env_prefix="MEDCITE_", extra="ignore", env_ignore_empty=True)

    index: Path = Field(DEFAULT_INDEX_DIR, description="index directory")
    model: str | None = Field(None, description="sentence-transformers name or path; 'fake' for tests")
    backend: str | None = Field(None, description="embedding backend: onnx (int8, default) or torch (fp32)")
    max_tokens: int | None = Field(None, description="wordpieces of each chunk embedded (default: 128 for "
                                   "the default model, else the model's own limit)")
    cache: Path | None = Field(None, description="where the ONNX export is cached (default .medcite/models)")
    vector_index: str | None = Field(None, description="vector index of a new index: flat (default), hnsw or ivfpq "
                                     "(compressed above ivf_min_vectors); when set, serving refuses an index of another kind")
    ivf_min_vectors: int = Field(IVFPQ_MIN_VECTORS, ge=0, description="ivfpq: vectors from which it is compressed")
    ivf_factory: str | None = Field(None, description="ivfpq: FAISS factory, e.g. IVF4096,PQ64 (default: sized by n)")
    ivf_nprobe: int | None = Field(None, ge=1, description="ivfpq: lists searched per query (default: the index's)")
    ivf_refine_factor: int | None = Field(None, ge=0, description="ivfpq: candidates re-scored exactly per result "
                                          "(0: none; default: the index's)")
    bm25_mmap_bytes: int = Field(MMAP_BYTES, ge=0, description="BM25 postings files this large are memory-mapped")
    checkpoint_s: float = Field(CHECKPOINT_S, description="seconds between commits of a long ingest")
    debug: bool = Field(False, description="the CLI re-raises errors with their traceback")
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
    # Receipt deadlines. A question is at most 64 KB, so 10 s allows a link of under 7 KB/s; an upload of 20 MB
    # in 120 s needs about 170 KB/s. A client slower than that is treated as holding the server hostage.
    header_timeout_s: float = Field(10, gt=0, description="seconds for a request line and headers to arrive")
    body_timeout_s: float = Field(10, gt=0, description="seconds for a whole request body to arrive (408 beyond)")
    upload_timeout_s: float = Field(120, gt=0, description="seconds for a whole POST /documents upload to arrive")
    keep_alive_s: int = Field(5, ge=1, description="idle seconds before a keep-alive connection is closed")
    # Open connections (each is a file descriptor); past it uvicorn answers 503 instead of exhausting the
    # process's descriptors (commonly 1,024), leaving room for index files and worker pipes.
    max_connections: int = Field(512, ge=1, description="open connections before new requests get 503")

    def embedder_options(self) -> dict:
        """Keyword arguments of index.embedder.load_embedder."""
        return {"model": self.model, "backend": self.backend, "max_tokens": self.max_tokens,
                "cache_dir": self.cache}

    def vector_settings(self) -> VectorSettings:
        """How vectors are indexed and searched (index.vectors.VectorSettings)."""
        return VectorSettings(kind=self.vector_index, nprobe=self.ivf_nprobe, refine_factor=self.ivf_refine_factor,
                              min_vectors=self.ivf_min_vectors, factory=self.ivf_factory)

    def ingest_options(self) -> dict:
        """Keyword arguments of service.pipeline.ingest_paths."""
        return {"checkpoint_s": self.checkpoint_s, "vector_index": self.vector_index,
                "vector_settings": self.vector_settings()}

    def index_options(self) -> dict:
        """Keyword arguments of index.store.Index.open (besides path and embedder)."""
        return {"vector_settings": self.vector_settings(), "postings_mmap_bytes": self.bm25_mmap_bytes}

    def origins(self) -> list[str]:
        """The CORS origins as a list (empty: CORS stays off)."""
        return [o.strip() for o in self.cors_origins.split(",") if o.strip()]

    def key(self) -> str | None:
        """The API key as plain text, or None when write endpoints are disabled."""
        value = self.api_key.get_secret_value() if self.api_key else ""
        return value or None
