"""schemathesis (v4) against the app's own OpenAPI schema: no 5xx, every response matches the schema.

The app serves a real index (tiny corpus, FakeEmbedder) with the real answer module, so odd
generated questions reach the real search (FTS5 query syntax, Unicode) too.
"""
from __future__ import annotations

import os

import pytest
from fastapi.testclient import TestClient

from api_support import wait_ready
from index.embedder import FakeEmbedder
from service.app import create_app
from service.pipeline import ingest_paths
from service.settings import Settings

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, settings  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.specs.openapi.checks import response_schema_conformance  # noqa: E402

EXAMPLES = int(os.environ.get("MEDCITE_SCHEMA_EXAMPLES", "25"))


@pytest.fixture(scope="module")
def served_app(tmp_path_factory):
    """The real app over an index of a small corpus, loaded (lifespan entered) for this module's tests."""
    root = tmp_path_factory.mktemp("schema")
    corpus = root / "corpus"
    corpus.mkdir()
    (corpus / "pain.md").write_text(
        "---\ntitle: Buttock pain\ntype: guideline\nyear: 2004\n---\n# Where is buttock pain felt?\n\n"
        "Buttock pain is felt below the iliac crest. Low back pain is felt above it.\n\n"
        "# What causes it?\n\nSacroiliac joint pain often refers to the buttock.\n", encoding="utf-8")
    ingest_paths([corpus], root / "index", FakeEmbedder())
    app = create_app(Settings(index=root / "index", model="fake"))
    with TestClient(app) as client:
        wait_ready(client)
        yield app


# Only the OpenAPI document is built at import (parametrizing needs it at collection); the index and the
# loaded app come from the fixture above.
schema = schemathesis.openapi.from_dict(create_app(Settings(index="/unused", model="fake")).openapi())


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_conforms_to_its_schema(case, served_app):
    case.call_and_validate(app=served_app, checks=[not_a_server_error, response_schema_conformance])
