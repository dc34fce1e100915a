"""Scale benchmark: synthetic indexes of N chunks, flat vs compressed vectors, measured as served.

    python -m eval.bench_scale --base /work/idx/scale-base --out /work/idx/scale-bench \\
        --sizes 100000,1000000 --settings flat,ivfpq [--text-max 1000000] [--output scale.json]

For each size the chunk store (documents, chunks, FTS5) and the BM25 postings are written once, in the
index's own format (one generation, manifest with checksums, `Index.open` opens it), from the synthetic
corpus of eval/synthetic.py; sizes above --text-max get the chunk store without FTS5/postings (vector
index and chunk store only). Each vector setting then gets its own vectors.faiss (ivfpq: trained on a
seeded sample, exact float16 copies for re-scoring). No sentence spans or sentence vectors are written
(the answer path is not what is measured here; search is).

Reported per size and setting: build time (store, postings, vectors), size on disk, and from a fresh
serving process (`Index.open`, then the questions): RSS after the questions (VmRSS and peak VmHWM), search
p50/p95 (hybrid where BM25 exists, and dense) with the question vectors precomputed (embedding a question
is ~5 ms at any corpus size), and recall@10 of the setting's dense search against exact search over the
same vectors (exact top 10 recomputed by regenerating the vectors batch by batch). `--recall-curve 16,32,64`
instead reports recall@10 of a built ivfpq index at those nprobe values for refine factors 8-128 (one IVF
search per nprobe, no timing): the curves the default nprobe and refine factor rest on.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import faiss
import numpy as np

from eval import synthetic
from index import bm25_postings, vectors
from index.bm25_postings import Postings
from index.build import faiss_ids
from index.manifest import (CURRENT, POSTINGS, SENTENCES, STORE, VECTORS, fsync_path, generation_name,
                            write_manifest)
from index.sentence_store import SENTENCE_DTYPE
from index.store import SCHEMA, meta_to_json
from ingest.documents import DocMeta

ROOT = Path(__file__).resolve().parents[1]
DEV_QUERIES = ROOT.parent / "shared" / "data" / "medquad-dev" / "queries.jsonl"
QUERIES = 200  # questions per measurement: enough for a stable p95
ADD_BATCH = synthetic.BATCH
REFINE_FACTORS = [8, 12, 16, 24, 32, 48, 64, 79, 96, 128]  # --recall-curve (79: the rule's at 10M, IVF1024)


def log(msg: str) -> None:
    """Progress on stderr."""
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# --- building --------------------------------------------------------------------------------------------


def write_store(path: Path, base: synthetic.Base, bases: np.ndarray, with_text_index: bool) -> None:
    """store.sqlite: one document of one chunk per synthetic chunk (rowid i + 1), FTS5 rows when asked."""
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=OFF")
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute("PRAGMA cache_size=-262144")  # 256 MB of pages: the text-keyed unique indexes stay cached
    conn.executescript(SCHEMA)
    # secondary indexes are built once at the end (a sort), not row by row; the schema is the index's own
    secondary = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
                                           "AND tbl_name IN ('documents', 'chunks')")]
    for name in secondary:
        conn.execute(f"DROP INDEX {name}")
    metas = {}
    started = time.monotonic()
    for start in range(0, len(bases), ADD_BATCH):
        part = bases[start:start + ADD_BATCH]
        docs, chunks, fts = [], [], []
        for i, b in enumerate(part.tolist(), start):
            meta = metas.get(b) or metas.setdefault(b, meta_to_json(DocMeta(title=base.titles[b])))
            text = base.texts[b]
            docs.append((f"syn{i}", f"synthetic/{i}", meta, f"b{b}", text, "", None, "[]", 1))
            chunks.append((i + 1, f"syn{i}#0", f"syn{i}", text, 0, len(text), base.headings[b], None, f"b{b}"))
            if with_text_index:
                fts.append((i + 1, base.titles[b], base.headings[b], text))
        conn.executemany("INSERT INTO documents(doc_id, source, meta, content_hash, text, doc_type, year, questions, "
                         "chunk_count) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", docs)
        conn.executemany("INSERT INTO chunks(id, chunk_id, doc_id, text, start_char, end_char, heading, page, "
                         "content_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", chunks)
        if fts:
            conn.executemany("INSERT INTO chunks_fts(rowid, title, heading, text) VALUES (?, ?, ?, ?)", fts)
        conn.commit()
        if (start + len(part)) % 1_000_000 == 0:
            log(f"store: {start + len(part):,} of {len(bases):,} rows in {time.monotonic() - started:.0f} s")
    conn.executescript(SCHEMA)  # the dropped secondary indexes
    conn.commit()
    conn.close()


def replicate_postings(base_postings: Postings, base_rowids: np.ndarray, bases: np.ndarray) -> Postings:
    """The postings FTS5 would give the synthetic store: each base row's postings copied to every synthetic
    row drawn from it (the texts are identical, so the tokens are), term-major, rows ascending."""
    base_row_of = np.searchsorted(base_postings.rows, base_rowids)  # Base index -> row of base_postings
    row_to_base = np.full(len(base_postings.rows), -1, np.int64)
    row_to_base[base_row_of] = np.arange(len(base_rowids))
    counts = np.bincount(bases, minlength=len(base_rowids))
    order = np.argsort(bases, kind="stable").astype(np.int32)  # synthetic rows grouped by base, ascending
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    term_of = np.repeat(np.arange(len(base_postings.terms), dtype=np.int32), np.diff(base_postings.ptr))
    entry_base = row_to_base[np.asarray(base_postings.pos)]
    rep = counts[entry_base]
    total = int(rep.sum())
    first = np.repeat(starts[entry_base] - (np.cumsum(rep) - rep), rep)
    syn_pos = order[first + np.arange(total)]
    term = np.repeat(term_of, rep)
    freq = np.repeat(np.asarray(base_postings.freq), rep)
    del first
    sort = np.lexsort((syn_pos, term))
    term, syn_pos, freq = term[sort], syn_pos[sort], freq[sort]
    ptr = np.searchsorted(term, np.arange(len(base_postings.terms) + 1)).astype(np.int64)
    base_len = np.asarray(base_postings.doclen)[base_row_of]
    return Postings(base_postings.terms, ptr, syn_pos.astype(np.int32), freq,
                    np.arange(1, len(bases) + 1, dtype=np.int64), base_len[bases].astype(np.int64))


def write_vectors(gen: Path, base: synthetic.Base, n: int, seed: int, setting: str) -> dict:
    """vectors.faiss (and a compressed index's exact copies) for the synthetic vectors; the manifest part."""
    if setting == "flat":
        index = vectors.new_index(base.dim, "flat")
        for b in synthetic.batches(n):
            vecs = synthetic.batch_vectors(base, n, b, seed)
            vectors.add(index, np.arange(b * synthetic.BATCH, b * synthetic.BATCH + len(vecs)) + 1, vecs)
        vectors.save(index, gen / VECTORS)
        return {"kind": "flat", "metric": "inner_product", "factory": vectors.describe(index)}
    factory = vectors.compressed_factory(n, base.dim)
    sample_rows = vectors.training_rows(n, vectors.training_size(factory, n))
    sample = []
    for b in synthetic.batches(n):
        lo, hi = b * synthetic.BATCH, min(n, (b + 1) * synthetic.BATCH)
        picked = sample_rows[(sample_rows >= lo) & (sample_rows < hi)] - lo
        if len(picked):
            sample.append(synthetic.batch_vectors(base, n, b, seed)[picked])
    t = time.monotonic()
    index = vectors.train_compressed(base.dim, factory, np.concatenate(sample))
    log(f"{factory}: trained on {len(sample_rows):,} vectors in {time.monotonic() - t:.0f} s")
    del sample
    ids_out = np.lib.format.open_memmap(gen / vectors.VECTOR_IDS, mode="w+", dtype=np.int64, shape=(n,))
    exact_out = np.lib.format.open_memmap(gen / vectors.EXACT_VECTORS, mode="w+", dtype=vectors.EXACT_DTYPE,
                                          shape=(n, base.dim))
    for b in synthetic.batches(n):
        vecs = synthetic.batch_vectors(base, n, b, seed)
        lo = b * synthetic.BATCH
        ids = np.arange(lo, lo + len(vecs)) + 1
        vectors.add(index, ids, vecs)
        ids_out[lo:lo + len(vecs)] = ids
        exact_out[lo:lo + len(vecs)] = vecs
        if (lo + len(vecs)) % 1_000_000 == 0:
            log(f"{factory}: {lo + len(vecs):,} of {n:,} vectors added")
    ids_out.flush()
    exact_out.flush()
    del ids_out, exact_out
    vectors.save(index, gen / VECTORS)
    return {"kind": "ivfpq", "metric": "inner_product", "factory": vectors.describe(index), "min_vectors": 0,
            "nprobe": vectors.NPROBE, "refine_factor": vectors.REFINE_FACTOR, "train_factory": None,
            "training": {"factory": factory, "vectors": n, "sample": int(len(sample_rows)),
                         "sample_seed": vectors.TRAIN_SEED, "sample_of": "uniform over the vectors sorted by id"},
            "exact_vectors": {"file": vectors.EXACT_VECTORS, "ids": vectors.VECTOR_IDS,
                              "dtype": np.dtype(vectors.EXACT_DTYPE).name}}


def finish_generation(root: Path, gen: Path, n: int, dim: int, vector_index: dict, base_manifest: dict) -> None:
    """Empty sentence vectors, the manifest (checksums) and CURRENT: an index Index.open accepts."""
    np.save(gen / SENTENCES, np.zeros((0, dim), SENTENCE_DTYPE))
    manifest = {k: base_manifest[k] for k in ("model", "dim", "max_tokens", "embedder", "chunking", "fusion", "bm25",
                                              "search_text") if k in base_manifest}
    manifest.update({"generation": gen.name, "created_at": time.time(), "vector_index": vector_index,
                     "counts": {"documents": n, "chunks": n, "files": 0, "sentences": 0, "vectors": n,
                                "sentence_vectors": 0},
                     "synthetic": "eval/synthetic.py (see its docstring)"})
    write_manifest(gen, manifest)
    fsync_path(gen)
    (root / CURRENT).write_text(gen.name + "\n")


def build_size(out: Path, base: synthetic.Base, base_gen: Path, n: int, seed: int, settings: list[str],
               with_text_index: bool) -> dict:
    """Every setting's index of one size; returns build times and sizes."""
    shared = out / f"n{n}-shared"
    shared.mkdir(parents=True, exist_ok=True)
    result: dict = {"n": n, "text_index": with_text_index, "build_s": {}, "bytes": {}}
    bases = synthetic.all_bases(base, n, seed)
    t = time.monotonic()
    if not (shared / STORE).is_file():
        write_store(shared / (STORE + ".tmp"), base, bases, with_text_index)
        os.replace(shared / (STORE + ".tmp"), shared / STORE)
        result["build_s"]["store"] = round(time.monotonic() - t, 1)
        log(f"n={n}: store in {result['build_s']['store']} s")
    if with_text_index and not (shared / POSTINGS).is_file():
        t = time.monotonic()
        base_postings = Postings.load(base_gen / POSTINGS, mmap_bytes=1 << 62)
        replicate_postings(base_postings, base.rowids, bases).save(shared / POSTINGS)
        result["build_s"]["postings"] = round(time.monotonic() - t, 1)
        log(f"n={n}: postings in {result['build_s']['postings']} s")
    base_manifest = json.loads((base_gen / "manifest.json").read_text())
    for setting in settings:
        root = out / f"n{n}-{setting}"
        gen = root / generation_name(1)
        if (root / CURRENT).is_file():
            log(f"n={n} {setting}: exists, reused")
            continue
        shutil.rmtree(root, ignore_errors=True)
        gen.mkdir(parents=True)
        for name in (STORE, POSTINGS):
            if (shared / name).is_file():
                os.link(shared / name, gen / name)  # immutable files: one copy on disk for both settings
        t = time.monotonic()
        vector_index = write_vectors(gen, base, n, seed, setting)
        result["build_s"][setting] = round(time.monotonic() - t, 1)
        log(f"n={n} {setting}: vectors in {result['build_s'][setting]} s")
        finish_generation(root, gen, n, base.dim, vector_index, base_manifest)
    for setting in settings:
        gen = out / f"n{n}-{setting}" / generation_name(1)
        result["bytes"][setting] = {p.name: p.stat().st_size for p in sorted(gen.iterdir())}
    return result


# --- measuring -------------------------------------------------------------------------------------------


def probe(index_dir: Path, queries: Path, modes: list[str], k: int = 10, refine_factor: int | None = None) -> dict:
    """In a fresh process: open the index, search every question, report latency, RSS and dense top-k ids.

    refine_factor: re-score this many x k candidates exactly instead of the index's own setting (what a server
    started with MEDCITE_IVF_REFINE_FACTOR does)."""
    from eval.loadtest import percentile, rss_mb
    from index.store import Index

    data = json.loads(queries.read_text())
    texts, qvecs = data["texts"], np.array(data["vectors"], dtype=np.float32)
    t = time.monotonic()
    index = Index.open(index_dir, verify=False, vector_settings=vectors.VectorSettings(refine_factor=refine_factor))
    open_s = time.monotonic() - t
    rss_open = rss_mb(os.getpid())
    out = {"open_s": round(open_s, 2), "rss_after_open_mb": rss_open}
    for mode in modes:
        times, top = [], []
        for text, vec in zip(texts, qvecs):
            t = time.perf_counter()
            ranked = index.rank(text, k, mode, query_vector=vec)
            index._hits(ranked)  # fetch chunk texts and documents as search() does
            times.append((time.perf_counter() - t) * 1000)
            top.append([r[0] for r in ranked])
        out[mode] = {"p50_ms": round(percentile(times, 50), 2), "p95_ms": round(percentile(times, 95), 2)}
        if mode == "dense":
            out["dense_top"] = top
    out["rss_mb"] = rss_mb(os.getpid())
    out["peak_rss_mb"] = rss_mb(os.getpid(), "VmHWM")
    # anonymous memory (heap: vocabulary, IVF lists) vs pages of memory-mapped index files (page cache,
    # shared between processes, reclaimable)
    out["rss_anon_mb"] = rss_mb(os.getpid(), "RssAnon")
    out["rss_file_mb"] = rss_mb(os.getpid(), "RssFile")
    out["nprobe"], out["refine_factor"] = index._nprobe, index._refine_factor
    return out


def run_probe(index_dir: Path, queries: Path, modes: list[str], refine_factor: int | None = None,
              no_prune: bool = False) -> dict:
    """probe() in a child process (so the builder's memory is not counted)."""
    extra = ["--refine-factor", str(refine_factor)] if refine_factor is not None else []
    extra += ["--no-prune"] if no_prune else []
    proc = subprocess.run([sys.executable, "-m", "eval.bench_scale", "--probe", str(index_dir), "--queries-file",
                           str(queries), "--modes", ",".join(modes), *extra], capture_output=True, text=True, cwd=ROOT,
                          check=False)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-2000:])
    return json.loads(proc.stdout)


def question_vectors(path: Path, source: Path, n: int) -> None:
    """Embed the first n questions of a BEIR queries.jsonl with the index's model; saved as JSON for the probes."""
    from index.embedder import load_embedder

    texts = [json.loads(line)["text"] for line in source.read_text(encoding="utf-8").splitlines()[:n]]
    vecs = load_embedder().embed(texts)
    path.write_text(json.dumps({"texts": texts, "vectors": vecs.tolist()}))


def exact_top_10(out: Path, base: synthetic.Base, n: int, seed: int, qvecs: np.ndarray) -> np.ndarray:
    """synthetic.exact_top_k for the questions, kept in out (minutes at 10M: computed by the build run, not
    by the measuring run); recomputed when the questions or the seed differ."""
    path = out / f"n{n}-exact-top10.npz"
    key = hashlib.sha256(qvecs.tobytes() + str(seed).encode()).hexdigest()
    if path.is_file():
        with np.load(path) as z:
            if str(z["key"]) == key:
                return z["top"]
    t = time.monotonic()
    top = synthetic.exact_top_k(base, n, seed, qvecs)
    log(f"n={n}: exact top 10 in {time.monotonic() - t:.1f} s")
    np.savez(path, top=top, key=np.array(key))
    return top


def recall_at_k(found: list[list[int]], exact: np.ndarray, cut: bool = True) -> float:
    """Mean share of the exact top k (0-based chunk numbers) among the found rowids (chunk number + 1): the
    first k of them, or all of them (cut=False)."""
    k = exact.shape[1]
    return float(np.mean([len(set(f[:k] if cut else f) & set((e + 1).tolist())) / k for f, e in zip(found, exact)]))


def recall_curve(index_dir: Path, qvecs: np.ndarray, exact: np.ndarray, nprobes: list[int],
                 factors: list[int]) -> dict:
    """recall@10 against exact search for each nprobe and refine factor, from one IVF search per nprobe: the
    share of the exact top 10 among the best factor x 10 candidates by compressed score (exact re-scoring
    puts those first; float16 rounding aside). What the default nprobe and refine factor rest on."""
    gen = next(index_dir.glob("gen-*"))
    index = vectors.load(gen / VECTORS)
    ivf = faiss.extract_index_ivf(index)
    out = {"factory": vectors.describe(index), "vectors_per_list": round(index.ntotal / ivf.nlist, 1),
           "default": dict(zip(("nprobe", "refine_factor"), vectors.search_defaults(index))), "recall_at_10": {}}
    for nprobe in nprobes:
        _, ids = index.search(qvecs, 10 * max(factors), params=faiss.SearchParametersIVF(nprobe=nprobe))
        found = [[int(i) for i in row] for row in ids]
        out["recall_at_10"][nprobe] = {f: round(recall_at_k([row[:10 * f] for row in found], exact, cut=False), 4)
                                       for f in factors}
    return out


# --- medquad-dev: flat against the compressed index forced on ----------------------------------------------


def retrieval_copy(source_gen: Path, root: Path) -> Path:
    """A copy of a real generation as a one-generation index; an index written before sentence storage
    (format 1) gets an empty sentence table and zero sentence vectors (retrieval needs neither)."""
    gen = root / generation_name(1)
    shutil.rmtree(root, ignore_errors=True)
    gen.mkdir(parents=True)
    for name in (STORE, VECTORS, POSTINGS, SENTENCES):
        if (source_gen / name).is_file():
            shutil.copyfile(source_gen / name, gen / name)
    manifest = json.loads((source_gen / "manifest.json").read_text())
    if not (gen / SENTENCES).is_file():
        from index.sentence_store import SENTENCE_SCHEMA

        conn = sqlite3.connect(gen / STORE)
        conn.executescript(SENTENCE_SCHEMA)
        conn.commit()
        conn.close()
        np.save(gen / SENTENCES, np.zeros((0, manifest["dim"]), SENTENCE_DTYPE))
        manifest["counts"].update(sentences=0, sentence_vectors=0)
    manifest["vector_index"]["factory"] = "IDMap2,Flat"
    write_manifest(gen, manifest)
    (root / CURRENT).write_text(gen.name + "\n")
    return gen


def compress_copy(flat_gen: Path, root: Path) -> None:
    """The same generation with its vectors compressed (ivfpq forced on: trained whatever the size)."""
    gen = retrieval_copy(flat_gen, root)
    flat = vectors.load(gen / VECTORS)
    ids = faiss_ids(flat)
    order = np.argsort(ids)
    ids, vecs = ids[order], flat.index.reconstruct_n(0, flat.ntotal)[order]
    factory = vectors.compressed_factory(len(ids), flat.d)
    rows = vectors.training_rows(len(ids), vectors.training_size(factory, len(ids)))
    index = vectors.train_compressed(flat.d, factory, vecs[rows])
    vectors.add(index, ids, vecs)
    vectors.save(index, gen / VECTORS)
    vectors.save_exact(gen, [(ids, vecs)], flat.d)
    manifest = json.loads((gen / "manifest.json").read_text())
    manifest["vector_index"] = {"kind": "ivfpq", "metric": "inner_product", "factory": vectors.describe(index),
                                "min_vectors": 0, "nprobe": vectors.NPROBE, "refine_factor": vectors.REFINE_FACTOR,
                                "train_factory": None,
                                "training": {"factory": factory, "vectors": int(len(ids)), "sample": int(len(rows)),
                                             "sample_seed": vectors.TRAIN_SEED,
                                             "sample_of": "uniform over the vectors sorted by id"},
                                "exact_vectors": {"file": vectors.EXACT_VECTORS, "ids": vectors.VECTOR_IDS,
                                                  "dtype": np.dtype(vectors.EXACT_DTYPE).name}}
    write_manifest(gen, manifest)


def dev_comparison(source_gen: Path, dataset: Path, out: Path) -> dict:
    """nDCG@10 (dense, hybrid) of `medcite eval`'s retrieval on the flat copy and on the compressed one."""
    from eval.runner import run_eval

    retrieval_copy(source_gen, out / "dev-flat")
    compress_copy(out / "dev-flat" / generation_name(1), out / "dev-ivfpq")
    scores = {}
    for setting in ("flat", "ivfpq"):
        result = run_eval(dataset, out / f"dev-{setting}", "dense,hybrid", measures="nDCG@10,R@100", answers=False,
                          output=out / f"dev-{setting}.json", progress=False)
        scores[setting] = result["retrievers"]
    return scores


def main(argv: list[str] | None = None) -> int:
    """Build and measure every size and setting; print one table and write JSON."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--base", type=Path, help="a real index's generation directory (texts and vectors to draw from)")
    p.add_argument("--out", type=Path, help="where the benchmark indexes go")
    p.add_argument("--sizes", default="100000,1000000")
    p.add_argument("--settings", default="flat,ivfpq")
    p.add_argument("--text-max", type=int, default=1_000_000, help="largest size that gets FTS5 + BM25 postings")
    p.add_argument("--seed", type=int, default=synthetic.SEED)
    p.add_argument("--queries", type=int, default=QUERIES)
    p.add_argument("--questions", type=Path, default=DEV_QUERIES, help="BEIR queries.jsonl (default: medquad-dev's)")
    p.add_argument("--output", type=Path, default=None)
    p.add_argument("--refine-factor", type=int, default=None,
                   help="ivfpq: measure with this many x k candidates re-scored (default: the index's setting)")
    p.add_argument("--no-prune", action="store_true",
                   help="BM25 adds up every posting (no MaxScore pruning): the same rankings, for comparison")
    p.add_argument("--build-only", action="store_true",
                   help="build the indexes and stop (measure in a later run, e.g. under a timing lock)")
    p.add_argument("--recall-curve", default=None, metavar="NPROBES",
                   help="ivfpq: print recall@10 at these nprobe values (e.g. 16,32,64,128) for refine factors "
                        "8-128 from the built index (no timing), then stop")
    p.add_argument("--dev-gen", type=Path, default=None, metavar="GEN_DIR",
                   help="a real medquad-dev generation: compare nDCG@10 of flat and compressed copies, then stop")
    p.add_argument("--dataset", type=Path, default=ROOT.parent / "shared" / "data" / "medquad-dev")
    p.add_argument("--probe", type=Path, default=None, help=argparse.SUPPRESS)
    p.add_argument("--queries-file", type=Path, default=None, help=argparse.SUPPRESS)
    p.add_argument("--modes", default="hybrid,dense", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.probe:
        if args.no_prune:
            bm25_postings.PRUNE_POSTINGS = 1 << 62
        print(json.dumps(probe(args.probe, args.queries_file, args.modes.split(","), refine_factor=args.refine_factor)))
        return 0
    args.out.mkdir(parents=True, exist_ok=True)
    if args.dev_gen:
        print(json.dumps(dev_comparison(args.dev_gen, args.dataset, args.out), indent=2))
        return 0
    qfile = args.out / "questions.json"
    if not qfile.is_file():
        question_vectors(qfile, args.questions, args.queries)
    qvecs = np.array(json.loads(qfile.read_text())["vectors"], dtype=np.float32)
    base = synthetic.load_base(args.base)
    results = []
    for n in [int(s) for s in args.sizes.split(",")]:
        with_text = n <= args.text_max
        built = build_size(args.out, base, args.base, n, args.seed, args.settings.split(","), with_text)
        log(f"n={n}: built {json.dumps(built)}")
        exact = exact_top_10(args.out, base, n, args.seed, qvecs)
        if args.recall_curve:
            curve = recall_curve(args.out / f"n{n}-ivfpq", qvecs, exact, [int(p) for p in args.recall_curve.split(",")],
                                 REFINE_FACTORS)
            print(json.dumps({"n": n, **curve}))
            continue
        if args.build_only:
            continue
        for setting in args.settings.split(","):
            measured = run_probe(args.out / f"n{n}-{setting}", qfile, ["hybrid", "dense"] if with_text else ["dense"],
                                 args.refine_factor if setting == "ivfpq" else None, args.no_prune)
            row = {"n": n, "setting": setting, "build_s": built["build_s"].get(setting),
                   "store_build_s": built["build_s"].get("store"), "postings_build_s": built["build_s"].get("postings"),
                   "bytes": built["bytes"][setting], "disk_mb": round(sum(built["bytes"][setting].values()) / 2**20, 1),
                   **{k: v for k, v in measured.items() if k != "dense_top"},
                   "recall_at_10": round(recall_at_k(measured["dense_top"], exact), 4)}
            results.append(row)
            log(json.dumps(row))
    print_table(results)
    if args.output:
        args.output.write_text(json.dumps(results, indent=2))
    return 0


def print_table(rows: list[dict]) -> None:
    """One line per size and setting."""
    print(f"{'chunks':>10} {'setting':8} {'refine':>6} {'vectors build s':>15} {'disk MB':>9} {'RSS MB':>8} {'peak MB':>8} "
          f"{'anon MB':>8} {'file MB':>8} {'hybrid p50/p95 ms':>18} {'dense p50/p95 ms':>17} {'recall@10':>9}")
    for r in rows:
        hybrid = f"{r['hybrid']['p50_ms']}/{r['hybrid']['p95_ms']}" if "hybrid" in r else "-"
        dense = f"{r['dense']['p50_ms']}/{r['dense']['p95_ms']}"
        refine = r["refine_factor"] if r["setting"] == "ivfpq" else "-"
        print(f"{r['n']:>10} {r['setting']:8} {refine!s:>6} {r['build_s']!s:>15} {r['disk_mb']:>9} {r['rss_mb']:>8.0f} "
              f"{r['peak_rss_mb']:>8.0f} {r['rss_anon_mb']:>8.0f} {r['rss_file_mb']:>8.0f} {hybrid:>18} {dense:>17} "
              f"{r['recall_at_10']:>9}")


if __name__ == "__main__":
    sys.exit(main())
