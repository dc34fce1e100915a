"""Distributed ingest on Ray Data: reading, chunking and embedding as stages; one writer commits.

    medcite ingest PATH... --ray [ADDRESS]

A second driver next to service/pipeline.py (it uses ingest/ and index/ both). The stages run wherever Ray
schedules them (a local single-node Ray without an address, any Ray cluster with one, e.g. KubeRay):
`read_files` reads batches of files with the same isolation as one process (`ingest.batch.read_many`:
PDF/HTML in a killable, resource-limited worker; every failure kept with its reason), `chunk_documents`
chunks each Document and lists the texts it needs embedded, and `EmbedCalls` actors (the model loaded once
per actor, one GPU each when the cluster has GPUs) make exactly the embedder calls the single-process
driver would make (`plan_calls`: the int8 model's vectors depend on the other texts of their call). The
driver then commits through the same service.pipeline code and IndexWriter, in the same file and document
order, with an embedder that answers each call with the actors' vectors: chunk ids, texts, sentence rows,
vector ids and vectors come out as one process makes them. Ray is an optional extra: `pip install .[ray]`.
"""
from __future__ import annotations

import hashlib
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


def texts_to_embed(doc: Document) -> tuple[list[str], list[list[str]]]:
    """What the driver embeds for a document: each chunk's search text, and each chunk's stored sentences."""
    chunks = chunk_document(doc, **CHUNKING)
    return ([chunk_search_text(doc.meta.title, c.heading, c.text) for c in chunks],
            [[c.text[s:e] for s, e in chunk_sentence_spans(c)] for c in chunks])


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
            out["texts"].append(pickle.dumps(texts_to_embed(doc) if doc is not None else ([], [])))
            out["errors"].append(errors if position == 0 else pickle.dumps([]))
            out["failure"].append(failure)
    return out


def plan_calls(per_doc: list[tuple[list[str], list[list[str]]]], embed_batch: int) -> list[list[str]]:
    """The embedder calls service/pipeline.py makes for these documents, in order: the chunk texts of at least
    `embed_batch` queued chunks in one call, then their sentence texts new to the run in another.

    The int8 ONNX model quantizes activations per call, so a vector depends on the other texts of its
    call: the actors make exactly these calls, and the commit gets vectors equal to one process's.
    """
    calls: list[list[str]] = []
    seen: set[str] = set()
    chunk_texts: list[str] = []
    sentence_texts: list[str] = []

    def flush():
        new = [t for t in dict.fromkeys(sentence_texts) if t not in seen]
        seen.update(new)
        calls.extend(call for call in (list(chunk_texts), new) if call)
        chunk_texts.clear()
        sentence_texts.clear()

    for chunks, sentences in per_doc:
        chunk_texts.extend(chunks)
        sentence_texts.extend(t for per_chunk in sentences for t in per_chunk)
        if len(chunk_texts) >= embed_batch:
            flush()
    flush()
    return calls


def call_key(texts: list[str]) -> str:
    """A key naming one embedder call by its texts in order."""
    h = hashlib.sha256()
    for text in texts:
        h.update(text.encode("utf-8"))
        h.update(b"\x00")
    return h.hexdigest()


class EmbedCalls:
    """Stage 3 (an actor): the model is loaded once per actor; each row is one embedder call, made as is."""

    def __init__(self, embedder_options: dict):
        from index.embedder import load_embedder

        self.embedder = load_embedder(**embedder_options)

    def __call__(self, batch: dict) -> dict:
        out = []
        for texts in batch["texts"]:
            vecs = self.embedder.embed(pickle.loads(texts))
            out.append(np.ascontiguousarray(vecs, np.float32).tobytes())
        return {"call": batch["call"], "vectors": out}


# --- the driver ---------------------------------------------------------------------------------------------


class PrecomputedEmbedder:
    """An embedder answering each call with the vectors the actors computed for the same call (a call it
    was not given, e.g. after a checkpoint moved the batch boundaries, goes to the local model)."""

    def __init__(self, model, table: dict[str, np.ndarray]):
        self.model = model
        self.name, self.dim = model.name, model.dim
        self.max_tokens = getattr(model, "max_tokens", None)
        self.table = table
        self.misses = 0

    def embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        vecs = self.table.pop(call_key(texts), None)
        if vecs is None:
            self.misses += 1
            return self.model.embed(texts)
        return vecs


def start_ray(address: str | None):
    """Connect to the Ray cluster at address, or start a local one; returns (ray, GPUs, CPUs)."""
    ray = import_ray()
    if not ray.is_initialized():
        ray.init(address=address, include_dashboard=False, log_to_driver=False, configure_logging=False)
    ray.data.DataContext.get_current().enable_progress_bars = False
    return ray, int(ray.cluster_resources().get("GPU", 0)), int(ray.cluster_resources().get("CPU", 1))


def run_pipeline(paths: list[Path], embedder_options: dict, dim: int, embed_batch: int, address: str | None = None,
                 actors: int | None = None) -> tuple[list[tuple[Path, object]], dict]:
    """Run the stages over the files; returns (path, ReadResult | ReadError) in file order and the vectors of
    every embedder call the single-process driver will make (by call_key)."""
    ray, gpus, cpus = start_ray(address)
    from ingest.readers import ReadResult

    items = [{"ordinal": i, "path": str(p)} for i, p in enumerate(paths)]
    ds = (ray.data.from_items(items)
          .map_batches(read_files, batch_size=READ_BATCH)
          .map_batches(chunk_documents, batch_size=READ_BATCH))
    files: dict[int, dict] = {}
    for batch in ds.iter_batches(batch_format="numpy", batch_size=None):
        for row in zip(batch["ordinal"], batch["position"], batch["doc"], batch["texts"], batch["errors"],
                       batch["failure"]):
            _collect(files, row)
    results, per_doc = [], []
    for ordinal, path in enumerate(paths):
        entry = files.get(ordinal, {"failure": "not read by the Ray pipeline", "docs": {}, "errors": []})
        if entry["failure"]:
            results.append((path, ReadError(entry["failure"])))
        else:
            results.append((path, ReadResult([entry["docs"][p][0] for p in sorted(entry["docs"])], entry["errors"])))
            per_doc.extend(entry["docs"][p][1] for p in sorted(entry["docs"]))
    calls = plan_calls(per_doc, embed_batch)
    table: dict[str, np.ndarray] = {}
    if calls:
        pool = actors or max(1, gpus or cpus)
        embedded = ray.data.from_items([{"call": i, "texts": pickle.dumps(c)} for i, c in enumerate(calls)]).map_batches(
            EmbedCalls, batch_size=1, fn_constructor_kwargs={"embedder_options": embedder_options},
            compute=ray.data.ActorPoolStrategy(min_size=1, max_size=pool), num_gpus=1 if gpus else 0)
        for batch in embedded.iter_batches(batch_format="numpy", batch_size=None):
            for i, vecs in zip(batch["call"], batch["vectors"]):
                table[call_key(calls[int(i)])] = np.frombuffer(vecs, dtype=np.float32).reshape(-1, dim).copy()
    return results, table


def _collect(files: dict, row: tuple) -> None:
    """Fold one document row of the pipeline's output into per-file results."""
    ordinal, position, doc, texts, errors, failure = row
    entry = files.setdefault(int(ordinal), {"failure": str(failure), "docs": {}, "errors": []})
    errors = pickle.loads(errors)
    if errors:
        entry["errors"].extend(errors)
    if int(position) >= 0:
        entry["docs"][int(position)] = (pickle.loads(doc), pickle.loads(texts))


def ray_reader(embedder_options: dict, address: str | None = None, actors: int | None = None):
    """A reader for service.pipeline.ingest_paths: runs the Ray pipeline over the files to ingest; returns
    their read results in file order and the embedder the single-process commit code then uses (the
    actors' vectors)."""
    from service.pipeline import EMBED_BATCH as DRIVER_EMBED_BATCH

    def read(embedder, paths: list[Path]) -> tuple[Iterator[tuple[Path, object]], PrecomputedEmbedder]:
        results, table = run_pipeline(paths, embedder_options, embedder.dim, DRIVER_EMBED_BATCH, address, actors)
        return iter(results), PrecomputedEmbedder(embedder, table)

    return read
