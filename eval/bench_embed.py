"""Embedding throughput, side by side in one run: plain sentence-transformers (torch fp32) vs int8 ONNX.

    python -m eval.bench_embed [--n 2000] [--dataset ../shared/data/medquad-dev]

Prints answers/s and tokens/s (wordpiece tokens, truncated at the model's max length) per backend
and the mean cosine between the two backends' vectors.
"""
from __future__ import annotations

import argparse
import copy
import itertools
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

DEV = Path(__file__).resolve().parents[2] / "shared" / "data" / "medquad-dev"


def load_texts(dataset: Path, n: int) -> list[str]:
    """The first n corpus answers as the index embeds them (title, then text)."""
    from index.store import chunk_search_text

    with open(dataset / "corpus.jsonl", encoding="utf-8") as fh:
        rows = [json.loads(line) for line in itertools.islice(fh, n)]
    return [chunk_search_text(r.get("title", ""), "", r.get("text", "")) for r in rows]


def count_tokens(embedder, texts: list[str], max_length: int) -> int:
    """Wordpiece tokens the model actually sees (with specials, after truncation)."""
    tok = embedder.tokenizer if hasattr(embedder, "tokenizer") else embedder.model.tokenizer
    if hasattr(tok, "encode_batch"):  # the `tokenizers` library's Tokenizer (the ONNX backend's): padding off
        tok = copy.deepcopy(tok)
        tok.no_padding()
        tok.enable_truncation(max_length)
        return sum(len(e.ids) for e in tok.encode_batch(texts))
    return sum(len(ids) for ids in tok(texts, truncation=True, max_length=max_length)["input_ids"])


def bench(name: str, embedder, texts: list[str]) -> dict:
    """Time one embedder over texts (after a short warm-up)."""
    embedder.embed(texts[:16])
    started = time.perf_counter()
    vecs = embedder.embed(texts)
    seconds = time.perf_counter() - started
    return {"backend": name, "seconds": round(seconds, 2), "answers_per_s": round(len(texts) / seconds, 1),
            "vectors": vecs}


def main(argv: list[str] | None = None) -> int:
    """Run both backends on the same texts and print the comparison as JSON."""
    from index.embedder import SentenceTransformerEmbedder
    from index.onnx_backend import OnnxEmbedder
    from service.settings import Settings

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--dataset", type=Path, default=DEV)
    args = ap.parse_args(argv)
    texts = load_texts(args.dataset, args.n)
    settings = Settings()
    torch_emb = SentenceTransformerEmbedder(settings.model, max_tokens=settings.max_tokens)
    onnx_emb = OnnxEmbedder(settings.model, max_tokens=settings.max_tokens, cache_dir=settings.cache)
    tokens = count_tokens(onnx_emb, texts, onnx_emb.max_tokens)
    results = [bench("torch-fp32", torch_emb, texts), bench("onnx-int8", onnx_emb, texts)]
    cosine = float((results[0].pop("vectors") * results[1].pop("vectors")).sum(axis=1).mean())
    for r in results:
        r["tokens_per_s"] = round(tokens / r["seconds"], 0)
    out = {"texts": len(texts), "tokens": tokens, "threads": os.cpu_count(), "results": results,
           "speedup": round(results[0]["seconds"] / results[1]["seconds"], 2), "mean_cosine": round(cosine, 4)}
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
