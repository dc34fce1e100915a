"""Recall@k curves of the retrievers, drawn with matplotlib (headless)."""
from __future__ import annotations

from pathlib import Path
from typing import Mapping


def plot_recall(curves: Mapping[str, Mapping[int, float]], path: Path, title: str = "") -> Path:
    """Save one recall@k line per retriever to a PNG."""
    import matplotlib

    matplotlib.use("Agg")  # no display on servers and in CI
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.2), dpi=120)
    for name, curve in curves.items():
        ks = sorted(curve)
        ax.plot(ks, [curve[k] for k in ks], marker="o", markersize=3, label=name)
    ax.set_xscale("log")
    ax.set_xlabel("k (documents retrieved)")
    ax.set_ylabel("recall@k")
    ax.set_ylim(0, 1.02)
    ax.grid(True, which="both", alpha=0.3)
    ax.set_title(title or "Recall@k")
    ax.legend(loc="lower right")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path
