"""Stage 3 of the answer path: the learned sentence scorer.

Gradient-boosted trees over the candidate features (service/candidates.py FEATURES), fitted by
`python -m eval.fit_scorer` (scikit-learn's HistGradientBoostingClassifier) on labelled question-sentence
pairs from several sources and saved as service/models/sentence_scorer.json: the trees, the feature
names, the data it was fitted on, held-out scores per source and the thresholds chosen with it. Trees
rather than one weight per feature because the signals interact: a sentence late in a document says
something different when it states a claim than when it reports a p value (held-out top-1 precision on
PubMedQA 0.68 with logistic regression, 0.86 with trees; the JSON's "scores" hold the figures of the
shipped fit). Applying the trees is a few numpy gathers over all candidates and trees at once;
scikit-learn is needed only to refit. A logistic-regression file (kind "logistic") is still read.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property, lru_cache
from importlib import resources

import numpy as np

from service.candidates import FEATURES, Candidates

MODEL_FILE = "sentence_scorer.json"


class ScorerMismatch(RuntimeError):
    """The scorer file was fitted on other features than this code computes: refit it."""


@dataclass(frozen=True)
class TreeScorer:
    """Boosted regression trees on the log-odds scale, flattened into node arrays (all trees together)."""

    features: tuple[str, ...]
    baseline: float  # log-odds before any tree
    roots: np.ndarray  # [trees] node index of each tree's root
    feature: np.ndarray  # [nodes] feature column tested (0 at leaves)
    threshold: np.ndarray  # [nodes] go left when the feature is <= this
    left: np.ndarray  # [nodes] left child; a leaf points at itself
    right: np.ndarray  # [nodes] right child; a leaf points at itself
    value: np.ndarray  # [nodes] log-odds added at a leaf (0 elsewhere)
    depth: int  # the deepest leaf: this many steps take every row to its leaf
    thresholds: dict

    def probabilities(self, features: np.ndarray) -> np.ndarray:
        """P(the sentence answers the question) for each feature row."""
        if len(features) == 0:
            return np.zeros(0, dtype=np.float32)
        features = np.asarray(features, dtype=np.float64)  # the thresholds are float64 bin edges
        # Flat gathers (np.take on raveled arrays) and one gather of the next node per step, rather than 2-D
        # fancy indexing and np.where over both children: the same walk in about half the time.
        flat = features.ravel()
        row_start = (np.arange(len(features)) * features.shape[1])[:, None]
        node = np.broadcast_to(self.roots, (len(features), len(self.roots)))
        for _ in range(self.depth):
            go_left = np.take(flat, row_start + np.take(self.feature, node)) <= np.take(self.threshold, node)
            node = np.take(self.children, 2 * node + go_left)
        z = self.baseline + self.value[node].sum(axis=1)
        return (1.0 / (1.0 + np.exp(-z))).astype(np.float32)

    @cached_property
    def children(self) -> np.ndarray:
        """[2 * nodes] each node's right child, then its left: node n goes to children[2n + (go left)]."""
        return np.stack([self.right, self.left], axis=1).ravel()


@dataclass(frozen=True)
class Scorer:
    """Logistic-regression weights over standardised features, and the thresholds fitted with them."""

    features: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float
    thresholds: dict  # name -> value, each chosen by eval.fit_scorer on held-out data (see the JSON)

    def probabilities(self, features: np.ndarray) -> np.ndarray:
        """P(the sentence answers the question) for each feature row."""
        if len(features) == 0:
            return np.zeros(0, dtype=np.float32)
        z = ((features - self.mean) / self.scale) @ self.coef + self.intercept
        return (1.0 / (1.0 + np.exp(-z))).astype(np.float32)


@dataclass(frozen=True)
class Scored:
    """The candidates of a question and each one's probability of answering it."""

    candidates: Candidates
    probability: np.ndarray  # [len(candidates.items)]


def score(candidates: Candidates, scorer: Scorer | TreeScorer | None = None) -> Scored:
    """Every candidate's probability under the shipped (or the given) scorer."""
    scorer = scorer or default_scorer()
    return Scored(candidates, scorer.probabilities(candidates.features))


def scorer_from_dict(data: dict) -> Scorer | TreeScorer:
    """The scorer of a JSON written by eval.fit_scorer; refuses one fitted on other features."""
    names = tuple(data["features"])
    if names != FEATURES:
        raise ScorerMismatch(f"the sentence scorer was fitted on features {names}, the code computes {FEATURES}: "
                             "refit with `python -m eval.fit_scorer`")
    if data.get("kind") == "trees":
        return trees_from_dict(names, data)
    return Scorer(names, np.asarray(data["mean"], np.float32), np.asarray(data["scale"], np.float32),
                  np.asarray(data["coef"], np.float32), float(data["intercept"]), dict(data["thresholds"]))


def trees_from_dict(names: tuple[str, ...], data: dict) -> TreeScorer:
    """Flatten the JSON's trees (each {"feature", "threshold", "left", "right", "value"} per node, children
    as indexes within the tree, -1 at leaves) into one set of node arrays."""
    feature, threshold, left, right, value, roots = [], [], [], [], [], []
    for tree in data["trees"]:
        base = len(feature)
        roots.append(base)
        for n, (f, t, lc, rc, v) in enumerate(zip(tree["feature"], tree["threshold"], tree["left"], tree["right"],
                                                   tree["value"])):
            leaf = lc < 0
            feature.append(0 if leaf else f)
            threshold.append(0.0 if leaf else t)
            left.append(base + n if leaf else base + lc)
            right.append(base + n if leaf else base + rc)
            value.append(v if leaf else 0.0)
    return TreeScorer(names, float(data["baseline"]), np.asarray(roots, np.int32), np.asarray(feature, np.int32),
                      np.asarray(threshold, np.float64), np.asarray(left, np.int32), np.asarray(right, np.int32),
                      np.asarray(value, np.float64), int(data["depth"]), dict(data["thresholds"]))


@lru_cache(maxsize=1)
def default_scorer() -> Scorer | TreeScorer:
    """The scorer shipped with the package (service/models/sentence_scorer.json)."""
    text = resources.files("service").joinpath("models", MODEL_FILE).read_text(encoding="utf-8")
    return scorer_from_dict(json.loads(text))
