"""Distributed ingest on Ray Data: reading, chunking and embedding as stages; one writer commits.

    medcite ingest PATH... --ray [ADDRESS]

It is a second driver next to service/pipeline.py (it uses ingest/ and index/ both). The stages run wherever Ray schedules them (a local single-node Ray without an address, any Ray cluster
with one, e.g. KubeRay): `read_files` reads a batch of files with the same isolation as one process
(`ingest.batch.read_many`: PDF/HTML in a killable, resource-limited worker; every failure kept as a
reason), `chunk_documents` splits each Document into chunks and lists the texts to embed (each chunk's
search text and each stored sentence), and `EmbedTexts` is an actor that loads the model once and embeds
whole batches (one GPU per actor when the cluster has GPUs). The driver then commits through the very
same IndexWriter as the single-process path, in the same file and document order, with an embedder that
returns the vectors the actors computed: chunk ids, texts, sentence rows and vector ids come out the same,
and the vectors differ only by batching (within 1e-5). Ray is an optional extra: `pip install .[ray]`.
"""
from __future__ import annotations

import pickle
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from index.sentence_store import chunk_sentence_spans
from index.store import chunk_search_text
from ingest.chunking import CHUNKING, chunk_document
from ingest.documents import Document
from ingest.errors import ReadError

# Files per read task: small enough that one slow PDF does not hold up many others.
READ_BATCH = 8
# Documents per embedding call: ~30 texts each (a chunk and its sentences), a few thousand texts per call.
EMBED_BATCH = 64


class RayMissing(RuntimeError):
    """Ray is not installed (it is the optional extra `medcite[ray]`)."""


def import_ray():
    """The ray module, or RayMissing naming the extra to install."""
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError as exc:
        raise RayMissing("--ray needs Ray: pip install 'medcite[ray]'") from exc
    return ray


# --- the stages (plain functions of Ray Data batches: dicts of columns) -------------------------------------


def read_files(batch: dict) -> dict:
    """Stage 1: read each file of the batch, isolated as in one process; errors kept as reasons."""
    from ingest.batch import read_many

    out: dict[str, list] = {"ordinal": [], "path": [], "docs": [], "errors": [], "failure": []}
    ordinals = dict(zip((str(p) for p in batch["path"]), (int(o) for o in batch["ordinal"])))
    for path, result in read_many(list(ordinals)):
        out["ordinal"].append(ordinals[str(path)])
        out["path"].append(str(path))
        if isinstance(result, Exception):
            out["docs"].append(pickle.dumps([]))
            out["errors"].append(pickle.dumps([]))
            out["failure"].append(getattr(result, "reason", str(result)))
        else:
            out["docs"].append(pickle.dumps(list(result)))
            out["errors"].append(pickle.dumps(list(getattr(result, "errors", []))))
            out["failure"].append("")
    return out


def texts_to_embed(doc: Document) -> list[str]:
    """What the driver will embed for a document: each chunk's search text, then each stored sentence."""
    chunks = chunk_document(doc, **CHUNKING)
    texts = [chunk_search_text(doc.meta.title, c.heading, c.text) for c in chunks]
    for c in chunks:
        texts.extend(c.text[s:e] for s, e in chunk_sentence_spans(c))
    return texts


def chunk_documents(batch: dict) -> dict:
    """Stage 2: one row per document with the texts it needs embedded (a failed file passes through)."""
    out: dict[str, list] = {"ordinal": [], "path": [], "position": [], "doc": [], "texts": [], "errors": [],
                            "failure": []}
    for ordinal, path, docs, errors, failure in zip(batch["ordinal"], batch["path"], batch["docs"],
                                                    batch["errors"], batch["failure"]):
        docs = pickle.loads(docs)
        for position, doc in enumerate(docs or [None]):  # a file without documents still reports itself
            out["ordinal"].append(int(ordinal))
            out["path"].append(path)
            out["position"].append(position if doc is not None else -1)
            out["doc"].append(pickle.dumps(doc))
            out["texts"].append(pickle.dumps(texts_to_embed(doc) if doc is not None else []))
            out["errors"].append(errors if position == 0 else pickle.dumps([]))
            out["failure"].append(failure)
    return out


class EmbedTexts:
    """Stage 3 (an actor): the model is loaded once per actor and embeds every text of a batch in one call."""

    def __init__(self, embedder_options: dict):
        from index.embedder import load_embedder

        self.embedder = load_embedder(**embedder_options)

    def __call__(self, batch: dict) -> dict:
        per_doc = [pickle.loads(t) for t in batch["texts"]]
        flat = [t for texts in per_doc for t in texts]
        vecs = self.embedder.embed(flat) if flat else np.zeros((0, self.embedder.dim), np.float32)
        bounds = np.cumsum([0] + [len(t) for t in per_doc])
        batch = dict(batch)
        batch["vectors"] = [np.ascontiguousarray(vecs[a:b], np.float32).tobytes() for a, b in zip(bounds, bounds[1:])]
        return batch


# --- the driver ---------------------------------------------------------------------------------------------


class PrecomputedEmbedder:
    """An embedder answering from vectors computed by the Ray actors (texts it was not given: the model)."""

    def __init__(self, model, table: dict[str, np.ndarray]):
        self.model = model
        self.name, self.dim = model.name, model.dim
        self.max_tokens = getattr(model, "max_tokens", None)
        self.table = table
        self.misses = 0

    def embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        missing = [t for t in dict.fromkeys(texts) if t not in self.table]
        if missing:
            self.misses += len(missing)
            self.table.update(zip(missing, self.model.embed(missing)))
        return np.stack([self.table[t] for t in texts]).astype(np.float32)


def run_pipeline(paths: list[Path], embedder_options: dict, dim: int, address: str | None = None,
                 actors: int | None = None) -> tuple[list[tuple[Path, object]], dict]:
    """Run the three stages over the files; returns (path, ReadResult | ReadError) in file order and the
    text -> vector table the actors computed."""
    ray = import_ray()
    from ingest.readers import ReadResult

    if not ray.is_initialized():
        ray.init(address=address, include_dashboard=False, log_to_driver=False, configure_logging=False)
    gpus = int(ray.cluster_resources().get("GPU", 0))
    cpus = int(ray.cluster_resources().get("CPU", 1))
    pool = actors or max(1, gpus or cpus // 2)
    items = [{"ordinal": i, "path": str(p)} for i, p in enumerate(paths)]
    ds = (ray.data.from_items(items)
          .map_batches(read_files, batch_size=READ_BATCH)
          .map_batches(chunk_documents, batch_size=READ_BATCH)
          .map_batches(EmbedTexts, batch_size=EMBED_BATCH, fn_constructor_kwargs={"embedder_options": embedder_options},
                       compute=ray.data.ActorPoolStrategy(min_size=1, max_size=pool), num_gpus=1 if gpus else 0))
    files: dict[int, dict] = {}
    table: dict[str, np.ndarray] = {}
    for batch in ds.iter_batches(batch_format="numpy", batch_size=None):
        for row in zip(batch["ordinal"], batch["position"], batch["doc"], batch["texts"], batch["errors"],
                       batch["failure"], batch["vectors"]):
            _collect(files, table, row, dim)
    results = []
    for ordinal, path in enumerate(paths):
        entry = files.get(ordinal, {"failure": "not read by the Ray pipeline", "docs": {}, "errors": []})
        if entry["failure"]:
            results.append((path, ReadError(entry["failure"])))
        else:
            docs = [entry["docs"][p] for p in sorted(entry["docs"])]
            results.append((path, ReadResult(docs, entry["errors"])))
    return results, table


def _collect(files: dict, table: dict, row: tuple, dim: int) -> None:
    """Fold one document row of the pipeline's output into per-file results and the vector table."""
    ordinal, position, doc, texts, errors, failure, vectors = row
    entry = files.setdefault(int(ordinal), {"failure": str(failure), "docs": {}, "errors": []})
    errors = pickle.loads(errors)
    if errors:
        entry["errors"].extend(errors)
    if int(position) >= 0:
        entry["docs"][int(position)] = pickle.loads(doc)
    vecs = np.frombuffer(vectors, dtype=np.float32).reshape(-1, dim)
    table.update(zip(pickle.loads(texts), vecs))


def ray_reader(embedder_options: dict, address: str | None = None, actors: int | None = None):
    """A reader for service.pipeline.ingest_paths: runs the Ray pipeline over the files to ingest; returns
    their read results in file order and the embedder the single-process commit code then uses (the
    actors' vectors)."""

    def read(embedder, paths: list[Path]) -> tuple[Iterator[tuple[Path, object]], PrecomputedEmbedder]:
        results, table = run_pipeline(paths, embedder_options, embedder.dim, address, actors)
        return iter(results), PrecomputedEmbedder(embedder, table)

    return read
