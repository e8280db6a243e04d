from pathlib import Path

import pytest

from oversight.data.records import make_question
from oversight.store import Debate, Judgment, Store, StoreError, Turn


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(f"sqlite:///{tmp_path / 'db.sqlite'}")


def _debate(store: Store) -> Debate:
    q = make_question(dataset="t", split="test", text="2+2?", choices=["4", "5"], correct_index=0)
    store.add_questions([q])
    exp = store.open_experiment("e", {"a": 1}, "h1", "v")
    assert exp.id is not None
    d = Debate(
        id="d1",
        experiment_id=exp.id,
        question_id=q.id,
        protocol="debate",
        key="k",
        assignment={"debater_1": 0, "debater_2": 1},
        rounds=1,
    )
    assert store.insert_ignore([d]) == 1
    return d


def test_sqlite_uses_wal(store: Store) -> None:
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000


def test_inserts_are_idempotent(store: Store) -> None:
    d = _debate(store)
    assert store.insert_ignore([d]) == 0
    q = store.question(d.question_id)
    assert store.add_questions([q]) == 0
    first = store.add_turn(Turn(debate_id="d1", round=0, speaker="debater_1", model="m", text="a"))
    again = store.add_turn(Turn(debate_id="d1", round=0, speaker="debater_1", model="m", text="b"))
    assert again.id == first.id and again.text == "a"
    assert store.count(Turn) == 1
    j = Judgment(
        debate_id="d1",
        judge_id="m@x",
        kind="prompted",
        model="m",
        probs=[0.7, 0.3],
        probs_by_order={"0,1": [0.8, 0.2], "1,0": [0.6, 0.4]},
    )
    assert store.add_judgment(j).probs == [0.7, 0.3]
    store.add_judgment(j.model_copy(update={"probs": [0.1, 0.9]}))
    assert store.count(Judgment) == 1
    assert store.judgment("d1", "m@x") is not None


def test_experiment_config_change_is_refused(store: Store) -> None:
    store.open_experiment("e", {}, "h1", "v")
    assert store.open_experiment("e", {}, "h1", "v2").config_hash == "h1"
    with pytest.raises(StoreError, match="different config"):
        store.open_experiment("e", {}, "h2", "v")
    with pytest.raises(StoreError, match="no experiment named 'zz'"):
        store.require_experiment("zz")


def test_status_and_queries(store: Store) -> None:
    d = _debate(store)
    store.set_status(d.id, "failed", "boom")
    got = store.debate(d.id)
    assert (got.status, got.error) == ("failed", "boom")
    assert [x.id for x in store.debates(d.experiment_id, status="failed")] == ["d1"]
    assert store.debates(d.experiment_id, protocol="direct") == []
