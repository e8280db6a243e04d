import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from benchmarks.bench_store import postgres_database
from oversight.data.records import make_question
from oversight.store import Debate, Judgment, Store, StoreError, Turn


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(f"sqlite:///{tmp_path / 'db.sqlite'}")


_DATABASES = ["sqlite"] + (["postgresql"] if os.environ.get("OVERSIGHT_TEST_POSTGRES_URL") else [])


@pytest.fixture(params=_DATABASES)
def any_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """A fresh store on SQLite, and on PostgreSQL where ``scripts/ci_services.sh`` runs one:
    the summary's SQL (JSON compared as text) must count the same on both."""
    if request.param == "sqlite":
        yield Store(f"sqlite:///{tmp_path / 'db.sqlite'}")
        return
    with postgres_database() as url:
        assert url is not None
        store = Store(url)
        yield store
        store.close()


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


def _summary_store(store: Store) -> tuple[int, int]:
    """Two experiments; the first holds hand-countable turns, judgments and one failure."""
    q1 = make_question(dataset="t", split="test", text="a?", choices=["x", "y"], correct_index=0)
    q2 = make_question(dataset="t", split="test", text="b?", choices=["x", "y"], correct_index=1)
    store.add_questions([q1, q2])
    one = store.open_experiment("one", {}, "h1", "v").id
    two = store.open_experiment("two", {}, "h2", "v").id
    assert one is not None and two is not None
    debates = [
        Debate(id="a", experiment_id=one, question_id=q1.id, protocol="debate", key="a"),
        Debate(id="b", experiment_id=one, question_id=q1.id, protocol="direct", key="b"),
        Debate(id="c", experiment_id=one, question_id=q2.id, protocol="debate", key="c"),
        Debate(id="z", experiment_id=two, question_id=q2.id, protocol="debate", key="z"),
    ]
    store.insert_ignore(debates)
    store.set_status("a", "complete")
    store.set_status("b", "complete")
    store.set_status("c", "failed", "BackendError: gone")

    def turn(
        debate: str,
        speaker: str,
        model: str,
        prompt: int,
        completion: int,
        context: dict | None = None,
    ) -> Turn:
        return Turn(
            debate_id=debate,
            round=0,
            speaker=speaker,
            model=model,
            text="t",
            prompt_tokens=prompt,
            completion_tokens=completion,
            context=context or {},
        )

    store.insert_ignore(
        [
            turn("a", "s1", "big", 100, 10),
            turn("a", "s2", "small", 120, 7, context={"policy": "drop_oldest", "dropped": [0]}),
            turn("b", "s1", "big", 50, 3),
            turn("z", "s1", "big", 1000, 1000),  # the other experiment's: never counted
        ]
    )
    for debate, context in (("a", {}), ("b", {"policy": "drop_oldest"}), ("z", {})):
        store.add_judgment_id(
            Judgment(
                debate_id=debate,
                judge_id="j",
                kind="prompted",
                model="judge",
                probs=[0.5, 0.5],
                context=context,
            )
        )
    return one, two


def test_experiment_summary_counts_in_sql_per_experiment(any_store: Store) -> None:
    store = any_store
    one, two = _summary_store(store)
    s = store.experiment_summary(one)
    assert s.debates == {"complete": 2, "failed": 1}
    assert s.questions == 2
    assert (s.turns, s.judgments) == (3, 2)
    assert (s.turns_context_dropped, s.judgments_context_dropped) == (1, 1)
    # big: 100 + 50 prompt, 10 + 3 completion; small: 120 and 7.
    assert {m: (t.prompt, t.completion) for m, t in s.tokens.items()} == {
        "big": (150, 13),
        "small": (120, 7),
    }
    assert [(f.debate, f.key, f.error) for f in s.failures] == [("c", "c", "BackendError: gone")]
    other = store.experiment_summary(two)
    assert other.debates == {"pending": 1} and other.turns == 1 and other.judgments == 1
    assert {m: (t.prompt, t.completion) for m, t in other.tokens.items()} == {"big": (1000, 1000)}
    assert other.failures == [] and other.turns_context_dropped == 0


def test_bulk_inserts_count_only_new_rows(any_store: Store) -> None:
    """Rows beyond one executemany chunk (1,000), some already stored: only new ones count."""
    questions = [
        make_question(dataset="t", split="test", text=f"q{i}?", choices=["x", "y"], correct_index=0)
        for i in range(1600)
    ]
    store = any_store
    assert store.add_questions(questions[:1200]) == 1200
    assert store.add_questions(questions) == 400
    rows = [q.model_dump() for q in questions[:5]]
    assert store.insert_values(type(questions[0]), rows) == 0
    assert store.count(type(questions[0])) == 1600


def test_final_judgments_are_the_experiments_final_verdicts(any_store: Store) -> None:
    store = any_store
    one, _two = _summary_store(store)
    store.add_judgment_id(
        Judgment(
            debate_id="a", judge_id="j", kind="prompted", model="judge", after_round=0, probs=[1, 0]
        )
    )
    got = [(j.debate_id, j.judge_id, j.probs) for j in store.final_judgments(one)]
    assert got == [("a", "j", [0.5, 0.5]), ("b", "j", [0.5, 0.5])]
    assert [j.debate_id for j in store.final_judgments(one, protocol="direct")] == ["b"]
    q1 = store.debate("a").question_id
    assert {j.question_id for j in store.final_judgments(one)} == {q1}
