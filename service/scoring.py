"""Stage 3 of the answer path: the learned sentence scorer.

A logistic regression over the candidate features (service/candidates.py FEATURES), fitted by
`python -m eval.fit_scorer` on labelled question-sentence pairs from several sources and saved as
service/models/sentence_scorer.json: the weights, the feature names, the standardisation, the data it
was fitted on, held-out scores per source and the thresholds chosen on held-out data. Applying it is
one matrix product in numpy; scikit-learn is needed only to refit.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import numpy as np

from service.candidates import FEATURES, Candidates

MODEL_FILE = "sentence_scorer.json"


class ScorerMismatch(RuntimeError):
    """The scorer file was fitted on other features than this code computes: refit it."""


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


def score(candidates: Candidates, scorer: Scorer | None = None) -> Scored:
    """Every candidate's probability under the shipped (or the given) scorer."""
    scorer = scorer or default_scorer()
    return Scored(candidates, scorer.probabilities(candidates.features))


def scorer_from_dict(data: dict) -> Scorer:
    """A Scorer from the JSON written by eval.fit_scorer; refuses one fitted on other features."""
    names = tuple(data["features"])
    if names != FEATURES:
        raise ScorerMismatch(f"the sentence scorer was fitted on features {names}, the code computes {FEATURES}: "
                             "refit with `python -m eval.fit_scorer`")
    return Scorer(names, np.asarray(data["mean"], np.float32), np.asarray(data["scale"], np.float32),
                  np.asarray(data["coef"], np.float32), float(data["intercept"]), dict(data["thresholds"]))


@lru_cache(maxsize=1)
def default_scorer() -> Scorer:
    """The scorer shipped with the package (service/models/sentence_scorer.json)."""
    text = resources.files("service").joinpath("models", MODEL_FILE).read_text(encoding="utf-8")
    return scorer_from_dict(json.loads(text))
