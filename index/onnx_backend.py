"""A faster embedder: the sentence-transformers model exported locally to ONNX, int8 dynamically quantized.

The export is built from the bundled weights on first use (nothing downloaded) and cached under
`.medcite/models/` (or the `cache_dir` given); later loads only need onnxruntime and the tokenizer.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

from index.models import MAX_INFERENCE_THREADS, model_name, resolve_model, token_limit

EXPORT_VERSION = 3  # bump when the export recipe changes, so stale caches are rebuilt
DEFAULT_CACHE_DIR = ".medcite/models"  # git-ignored, beside the default index


def cache_root(cache_dir: str | Path | None = None) -> Path:
    """Where exported models live: `cache_dir`, else the project's git-ignored .medcite/models."""
    return Path(cache_dir or DEFAULT_CACHE_DIR)


def _fingerprint(model_path: str) -> str:
    """Hash of the model files' names, sizes and mtimes plus the recipe version."""
    h = hashlib.sha256(f"v{EXPORT_VERSION}:{Path(model_path).resolve()}".encode())
    root = Path(model_path)
    if root.is_dir():
        for p in sorted(root.rglob("*")):
            if p.is_file():
                st = p.stat()
                h.update(f"{p.relative_to(root)}:{st.st_size}:{int(st.st_mtime)}".encode())
    return h.hexdigest()[:16]


def _export(model_path: str, out_dir: Path) -> None:
    """Export once, quietly: the tracer's and quantizer's warnings are about graphs we never feed."""
    import logging
    import warnings

    print(f"medcite: building the int8 ONNX model in {out_dir.parent} (once, ~15 s)", file=sys.stderr)
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _export_quantized(model_path, out_dir)
    finally:
        root.setLevel(level)


def _export_quantized(model_path: str, out_dir: Path) -> None:
    """Export the transformer to ONNX with torch, quantize it to int8, and save the tokenizer."""
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from sentence_transformers import SentenceTransformer

    # eager attention exports as plain MatMul/Softmax, which int8 dynamic quantization speeds up far more
    # than the SDPA graph (measured 2.42x vs 1.98x over torch fp32 on 400 dev answers, same cosine 0.995)
    st = SentenceTransformer(model_path, device="cpu", local_files_only=True,
                             model_kwargs={"attn_implementation": "eager"})
    transformer = st[0]
    bert = transformer.auto_model.eval()
    tok = transformer.tokenizer
    enc = tok(["an example sentence for tracing", "short"], padding=True, return_tensors="pt")
    names = [n for n in ("input_ids", "attention_mask", "token_type_ids") if n in enc]
    axes = {n: {0: "batch", 1: "seq"} for n in names}
    axes["last_hidden_state"] = {0: "batch", 1: "seq"}

    class Wrapped(torch.nn.Module):
        """Positional inputs -> last hidden state, which is all mean pooling needs."""

        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, *args):
            return self.m(**dict(zip(names, args))).last_hidden_state

    fp32 = out_dir / "model_fp32.onnx"
    with torch.no_grad():
        torch.onnx.export(Wrapped(bert), tuple(enc[n] for n in names), str(fp32), input_names=names,
                          output_names=["last_hidden_state"], dynamic_axes=axes, opset_version=17,
                          dynamo=False)
    # per-channel weights keep cosine to the fp32 model at ~0.995 (per-tensor: ~0.95) at the same speed
    quantize_dynamic(str(fp32), str(out_dir / "model_int8.onnx"), weight_type=QuantType.QInt8, per_channel=True)
    fp32.unlink()
    tok.save_pretrained(str(out_dir / "tokenizer"))
    pooling = [m for m in st if type(m).__name__ == "Pooling"]
    mode = str(pooling[0].get_config_dict().get("pooling_mode", "mean")) if pooling else "mean"
    normalize = any(type(m).__name__ == "Normalize" for m in st)
    info = {"model_path": str(model_path), "inputs": names, "max_seq_length": int(st.max_seq_length),
            "pooling": mode, "dim": int(st.get_embedding_dimension() if hasattr(st, "get_embedding_dimension")
                                        else st.get_sentence_embedding_dimension()), "normalize": normalize}
    (out_dir / "export.json").write_text(json.dumps(info, indent=2))


def exported_model_dir(model_path: str, cache_dir: str | Path | None = None) -> Path:
    """The cached int8 export of this model, building it first if absent (atomic: tmp dir + rename)."""
    target = cache_root(cache_dir) / f"onnx-int8-{_fingerprint(model_path)}"
    if (target / "export.json").exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".export-", dir=target.parent))
    try:
        _export(model_path, tmp)
        try:
            os.rename(tmp, target)
        except OSError:  # another process won the race; its export is as good as ours
            pass
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def fast_tokenizer(path: Path, max_tokens: int):
    """The model's own tokenizer.json in the `tokenizers` library, truncating and padding to the longest.

    The same Rust tokenizer transformers' AutoTokenizer wraps (tests compare the ids), without importing
    transformers, which imports torch: serving starts ~1 s sooner and ~100 MB smaller.
    """
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(path))
    tok.enable_truncation(max_length=max_tokens)
    config_path = path.with_name("tokenizer_config.json")
    config = json.loads(config_path.read_text()) if config_path.is_file() else {}
    pad = config.get("pad_token") or "[PAD]"
    pad = pad.get("content", "[PAD]") if isinstance(pad, dict) else str(pad)
    pad_id = tok.token_to_id(pad)
    tok.enable_padding(pad_id=pad_id if pad_id is not None else 0, pad_token=pad,
                       pad_type_id=int(config.get("pad_token_type_id", 0)))
    return tok


class OnnxEmbedder:
    """Mean-pooled, L2-normalised embeddings from the int8 ONNX export, batched and sorted by length."""

    def __init__(self, model: str | None = None, batch_size: int = 16, threads: int | None = None,
                 max_tokens: int | None = None, cache_dir: str | Path | None = None):
        import onnxruntime as ort

        self.name = model_name(model)
        folder = exported_model_dir(resolve_model(self.name), cache_dir)
        self.info = json.loads((folder / "export.json").read_text())
        self.dim = int(self.info["dim"])
        self.max_tokens = token_limit(self.name, int(self.info["max_seq_length"]), max_tokens)
        self.batch_size = batch_size
        self.tokenizer = fast_tokenizer(folder / "tokenizer" / "tokenizer.json", self.max_tokens)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads or min(os.cpu_count() or 1, MAX_INFERENCE_THREADS)
        opts.inter_op_num_threads = 1
        # Idle intra-op threads sleep instead of spinning: spinning burned ~40% more CPU for the same vectors when
        # embedding sentences with 2 threads (12.1 vs 7.5 CPU-s for 1,200 MedQuAD sentences, and 31 vs 21 s wall on
        # the shared 2-core machine at load 17; /tmp benchmark in the README's ingest row). One thread never spins.
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(str(folder / "model_int8.onnx"), opts,
                                            providers=["CPUExecutionProvider"])

    def _batch(self, texts: list[str]) -> np.ndarray:
        """Embed one batch of texts."""
        encodings = self.tokenizer.encode_batch(texts)
        enc = {"input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
               "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64),
               "token_type_ids": np.array([e.type_ids for e in encodings], dtype=np.int64)}
        feeds = {n: enc[n] for n in self.info["inputs"]}
        hidden = self.session.run(["last_hidden_state"], feeds)[0]
        mask = enc["attention_mask"].astype(np.float32)[:, :, None]
        if self.info["pooling"] == "cls":
            vecs = hidden[:, 0]
        else:
            vecs = (hidden * mask).sum(axis=1) / np.clip(mask.sum(axis=1), 1e-9, None)
        norms = np.linalg.norm(vecs, axis=1, keepdims=True)
        return (vecs / np.clip(norms, 1e-12, None)).astype(np.float32)

    def embed(self, texts: list[str]) -> np.ndarray:
        """Embed texts in length-sorted batches (less padding), returned in the input order."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        order = np.argsort([-len(t) for t in texts], kind="stable")
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i in range(0, len(texts), self.batch_size):
            idx = order[i:i + self.batch_size]
            out[idx] = self._batch([texts[j] for j in idx])
        return out
