"""schemathesis (v4) against the app's own OpenAPI schema: no 5xx, every response matches the schema.

The app serves a real index (tiny corpus, FakeEmbedder) with the real answer module, so odd
generated questions reach the real search (FTS5 query syntax, Unicode) too.
"""
from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api_support import wait_ready

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, settings  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.specs.openapi.checks import response_schema_conformance  # noqa: E402

from service.pipeline import ingest_paths  # noqa: E402
from index.embedder import FakeEmbedder  # noqa: E402
from service.app import create_app  # noqa: E402
from service.settings import Settings  # noqa: E402

EXAMPLES = int(os.environ.get("MEDCITE_SCHEMA_EXAMPLES", "25"))


def build_app():
    """The real app over an index of the repo's small corpus (built once, in a temp dir)."""
    root = Path(tempfile.mkdtemp(prefix="medcite-schema-"))
    atexit.register(shutil.rmtree, root, True)
    corpus = root / "corpus"
    corpus.mkdir()
    (corpus / "pain.md").write_text(
        "---\ntitle: Buttock pain\ntype: guideline\nyear: 2004\n---\n# Where is buttock pain felt?\n\n"
        "Buttock pain is felt below the iliac crest. Low back pain is felt above it.\n\n"
        "# What causes it?\n\nSacroiliac joint pain often refers to the buttock.\n", encoding="utf-8")
    ingest_paths([corpus], root / "index", FakeEmbedder())
    return create_app(Settings(index=root / "index", model="fake"))


APP = build_app()
_client = TestClient(APP)
_client.__enter__()  # run the lifespan once so the model and index are loaded
wait_ready(_client)
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_conforms_to_its_schema(case):
    case.call_and_validate(checks=[not_a_server_error, response_schema_conformance])
