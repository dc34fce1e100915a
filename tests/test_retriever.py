"""The Retriever protocol (index/retriever.py): the real index and every fake implement all of it."""
from __future__ import annotations

import inspect

import pytest

from api_support import FakeIndex
from eval.abstention import DenseMemoryIndex
from index.retriever import RETRIEVER_METHODS, Retriever
from index.store import Index
from tests.answer_helpers import MemoryRetriever


def test_protocol_lists_exactly_the_methods_the_answer_path_uses():
    members = {name for name, _ in inspect.getmembers(Retriever, inspect.isfunction) if not name.startswith("_")}
    assert members == set(RETRIEVER_METHODS)


@pytest.mark.parametrize("cls", [Index, FakeIndex, MemoryRetriever, DenseMemoryIndex])
def test_index_and_fakes_implement_every_method(cls):
    assert [m for m in RETRIEVER_METHODS if not callable(getattr(cls, m, None))] == []
