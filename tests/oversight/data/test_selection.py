"""Selection: a seeded shuffle of the whole split, then a prefix of ``limit``."""

from __future__ import annotations

import pytest

from oversight.data import DataError, available_sources, load_questions


def _ids(source: str, *, limit: int, seed: int = 0) -> list[str]:
    return [q.id for q in load_questions(source, limit=limit, seed=seed)]


def test_raising_the_limit_extends_the_selection() -> None:
    ten = _ids("arc", limit=10, seed=3)
    fifty = _ids("arc", limit=50, seed=3)
    assert len(ten) == 10 and len(fifty) == 50
    assert fifty[:10] == ten
    assert _ids("arc", limit=10, seed=3) == ten  # stable across calls


def test_seed_changes_the_selection() -> None:
    assert set(_ids("arc", limit=20, seed=0)) != set(_ids("arc", limit=20, seed=1))


def test_selection_is_a_shuffle_not_file_order() -> None:
    first = load_questions("boolq", split="test", limit=20, binarize=False)
    assert [q.source_id for q in first] != [f"test_{i}" for i in range(20)]


def test_binarizing_does_not_change_which_questions_are_selected() -> None:
    plain = load_questions("mmlu", split="dev", limit=30, seed=5, binarize=False)
    binary = load_questions("mmlu", split="dev", limit=30, seed=5)
    assert [q.meta["binarized_from"] for q in binary] == [q.id for q in plain]
    assert all(len(q.choices) == 2 for q in binary)


def test_limit_zero_and_above_size() -> None:
    assert load_questions("boolq", limit=0) == []
    assert len(load_questions("boolq", limit=10_000)) == 100


def test_negative_limit_is_an_error() -> None:
    with pytest.raises(DataError, match="field 'limit'"):
        load_questions("boolq", limit=-1)


def test_unknown_source_lists_known_sources() -> None:
    with pytest.raises(DataError) as err:
        load_questions("nope")
    message = str(err.value)
    assert message.startswith("load_questions: field 'source': unknown source 'nope'")
    for name in ("mmlu", "arc", "allenai/sciq", "anthropic/hh-rlhf", "emozilla/quality"):
        assert name in message


def test_available_sources_and_aliases() -> None:
    names = available_sources()
    for name in ("mmlu", "arc", "cosmosqa", "boolq", "truthfulqa", "jsonl", "sciq", "hh-rlhf"):
        assert name in names
    assert _ids("ARC", limit=3) == _ids("arc-challenge", limit=3)
