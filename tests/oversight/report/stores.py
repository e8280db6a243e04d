"""Stores for the report tests, written through the Store API: a tiny hand-made one whose every
number is worked out by hand in the tests, and a synthetic one of thousands of debates."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from oversight.data.records import make_question
from oversight.store import (
    Candidate,
    Debate,
    JudgeEnsemble,
    JudgeKind,
    Judgment,
    Label,
    LabelSet,
    Question,
    Store,
    TrainingRun,
    Turn,
)
from oversight.store.judges import BEFORE_FIRST_ROUND, EXPERIMENT_ENSEMBLE_NAME

TINY = "tiny"
CONTEXT = "The sky is blue today. Water is wet."
PAYLOAD = (
    "</script><script>window.__pwned = 1; document.title = 'pwned'</script>"
    "<img src=x onerror=\"window.__pwned = 2; document.title = 'pwned'\"> <b>not bold</b>"
)
"""A speech that would run script if the page ever treated model text as markup."""
QUESTIONS = (
    ("What colour is the sky?", ["blue", "green"], 0),
    ("Is water wet?", ["no", "yes"], 1),
    ("Which is a metal?", ["iron", "wood"], 0),
    ("Which is larger?", ["a mouse", "a whale"], 1),
)


def _judgment(debate: str, judge: str, orders: dict[str, list[float]], **kw: Any) -> Judgment:
    probs = [sum(p[c] for p in orders.values()) / len(orders) for c in range(2)]
    return Judgment(
        debate_id=debate,
        judge_id=judge,
        kind=kw.pop("kind", JudgeKind.PROMPTED),
        model="m",
        probs=probs,
        probs_by_order=orders,
        raw={"judge": judge.split("@")[0]},
        **kw,
    )


def _both(p0: float) -> dict[str, list[float]]:
    return {"0,1": [p0, 1 - p0], "1,0": [p0, 1 - p0]}


def build_tiny_store(url: str) -> Store:
    """Four debates (d0, d1: debate; d2, d3: consultancy), correct answers 0, 1, 0, 1.

    Judges: the experiment's prompted ``a`` and ``b`` (both orders scored), a replayed
    ensemble ``new`` of ``c`` (strongly biased to the first answer), and a live human ``Ann``
    with beliefs before and after rounds on d0 and d1. See the tests for the numbers.
    """
    store = Store(url)
    exp = store.open_experiment(TINY, {"seed": 0}, "h", "v")
    assert exp.id is not None
    questions: list[Question] = []
    for i, (text, choices, correct) in enumerate(QUESTIONS):
        context = CONTEXT if i == 0 else None
        q = make_question(
            dataset="t",
            split="test",
            text=text,
            choices=choices,
            correct_index=correct,
            context=context,
        )
        questions.append(q)
    store.add_questions(questions)
    debates = [
        Debate(
            id=f"d{i}",
            experiment_id=exp.id,
            question_id=questions[i].id,
            protocol="debate" if i < 2 else "consultancy",
            key=f"k{i}",
            assignment={"debater_1": 0, "debater_2": 1} if i < 2 else {"consultant": i % 2},
            rounds=2,
            status="complete",
        )
        for i in range(4)
    ]
    store.insert_ignore(debates)
    store.insert_ignore(
        [
            Turn(
                debate_id="d0",
                round=0,
                speaker="debater_1",
                model="m",
                text="I say A. <quote>the sky is blue</quote> and <quote>dragons exist</quote>. "
                "Also <v_quote>forged</v_quote>.",
                quotes=[
                    {"text": "the sky is blue", "verified": True},
                    {"text": "dragons exist", "verified": False},
                ],
            ),
            Turn(debate_id="d0", round=0, speaker="debater_2", model="m", text="Green, surely."),
            Turn(debate_id="d3", round=0, speaker="consultant", model="m", text=PAYLOAD),
        ]
    )
    # The consultant of d3 said the best of two samples, then revised it after a critique.
    note = {"debate_id": "d3", "round": 0, "speaker": "consultant", "model": "m"}
    store.insert_ignore(
        [
            Candidate(**note, index=0, text=PAYLOAD, score=0.7, scorer="a@1", chosen=True),
            Candidate(**note, index=1, text="A weaker sample.", score=0.4, scorer="a@1"),
            Candidate(**note, kind="draft", text=PAYLOAD),
            Candidate(**note, kind="critique", text=PAYLOAD),
        ]
    )
    live = JudgeKind.HUMAN_LIVE
    store.insert_ignore(
        [
            _judgment("d0", "a@1", {"0,1": [0.8, 0.2], "1,0": [0.4, 0.6]}),
            _judgment("d1", "a@1", _both(0.1)),
            _judgment("d2", "a@1", _both(0.3)),
            _judgment("d3", "a@1", _both(0.5)),
            _judgment("d0", "b@2", {"0,1": [0.5, 0.5], "1,0": [0.7, 0.3]}),
            _judgment("d1", "b@2", _both(0.6)),
            _judgment("d2", "b@2", _both(0.3)),
            _judgment("d3", "b@2", _both(0.5)),
            *(_judgment(f"d{i}", "c@3", {"0,1": [0.9, 0.1], "1,0": [0.1, 0.9]}) for i in range(4)),
            *(
                _judgment(d, "human:Ann", {"0,1": probs}, kind=live, after_round=after)
                for d, after, probs in (
                    ("d0", BEFORE_FIRST_ROUND, [0.5, 0.5]),
                    ("d0", 0, [0.7, 0.3]),
                    ("d0", 1, [0.9, 0.1]),
                    ("d0", -1, [0.9, 0.1]),
                    ("d1", BEFORE_FIRST_ROUND, [0.5, 0.5]),
                    ("d1", 0, [0.6, 0.4]),
                    ("d1", -1, [0.2, 0.8]),
                )
            ),
        ]
    )
    store.insert_ignore(
        [
            JudgeEnsemble(
                experiment_id=exp.id, name=EXPERIMENT_ENSEMBLE_NAME, judge_ids=["a@1", "b@2"]
            ),
            JudgeEnsemble(experiment_id=exp.id, name="new", judge_ids=["c@3"]),
        ]
    )
    return store


SYNTHETIC = "synthetic"


DEBATES_PER_QUESTION = 5


def synthetic_text(i: int) -> str:
    """The question text of debate ``i`` (each question is debated five times)."""
    return f"Synthetic question number {i // DEBATES_PER_QUESTION}: which answer holds?"


def synthetic_outcome(i: int) -> str:
    """``fooled`` for every fifth debate, else ``correct``: the judge's verdict by design."""
    return "fooled" if i % 5 == 0 else "correct"


def _chunks(rows: Sequence[Any], n: int = 400) -> list[Sequence[Any]]:
    return [rows[i : i + n] for i in range(0, len(rows), n)]


def build_synthetic_store(url: str, n: int = 5000) -> Store:
    """``n`` debates, five per question: even ones ``debate``, odd ones ``consultancy``; one
    turn each with a verified and an unverified quote; one prompted judge whose verdict is
    :func:`synthetic_outcome`."""
    store = Store(url)
    exp = store.open_experiment(SYNTHETIC, {"seed": 0}, "h", "v")
    assert exp.id is not None
    questions = [
        make_question(
            dataset="synthetic",
            split="test",
            text=synthetic_text(i),
            choices=["yes", "no"],
            correct_index=i % 2,
        )
        for i in range(0, n, DEBATES_PER_QUESTION)
    ]
    debates = [
        Debate(
            id=f"s{i}",
            experiment_id=exp.id,
            question_id=questions[i // DEBATES_PER_QUESTION].id,
            protocol="debate" if i % 2 == 0 else "consultancy",
            key=f"s{i}",
            assignment={"debater_1": 0, "debater_2": 1},
            rounds=1,
            status="complete",
        )
        for i in range(n)
    ]
    turns = [
        Turn(
            debate_id=f"s{i}",
            round=0,
            speaker="debater_1",
            model="m",
            text=f"Speech {i}: <quote>found words</quote> and <quote>made up</quote>.",
            quotes=[
                {"text": "found words", "verified": True},
                {"text": "made up", "verified": False},
            ],
        )
        for i in range(n)
    ]
    judgments = []
    for i in range(n):
        correct = (i // DEBATES_PER_QUESTION * DEBATES_PER_QUESTION) % 2
        p = 0.2 if synthetic_outcome(i) == "fooled" else 0.8
        p0 = p if correct == 0 else 1 - p
        judgments.append(_judgment(f"s{i}", "j@1", {"0,1": [p0, 1 - p0], "1,0": [p0, 1 - p0]}))
    for rows in (questions, debates, turns, judgments):
        for chunk in _chunks(rows):
            store.insert_ignore(list(chunk))
    store.insert_ignore(
        [JudgeEnsemble(experiment_id=exp.id, name=EXPERIMENT_ENSEMBLE_NAME, judge_ids=["j@1"])]
    )
    return store


W2S_SET = "w/labels/weak-ensemble-1a2b3c4d"


def build_w2s_store(url: str) -> Store:
    """Test questions t0..t3 (correct 0, 1, 0, 1) judged by one weak judge; labels on b0, b1
    (trained on) and b2 (validation); students and ceilings for seeds 0 and 1, and a student
    of seed 2 with no ceiling."""
    store = Store(url)
    exp = store.open_experiment("w", {"seed": 0}, "h", "v")
    assert exp.id is not None
    qs = {
        name: make_question(
            dataset="t", split="test", text=name, choices=["x", "y"], correct_index=i % 2
        )
        for i, name in enumerate(["t0", "t1", "t2", "t3", "b0", "b1", "b2"])
    }
    store.add_questions(qs.values())
    test = [qs[t].id for t in ("t0", "t1", "t2", "t3")]
    store.insert_ignore(
        [
            Debate(id=f"x{i}", experiment_id=exp.id, question_id=q, protocol="direct", key=f"x{i}")
            for i, q in enumerate(test)
        ]
    )
    # weak on test: right, wrong, wrong, right -> 0.5
    weak = [[0.7, 0.3], [0.6, 0.4], [0.4, 0.6], [0.2, 0.8]]
    store.insert_ignore(
        [
            Judgment(
                debate_id=f"x{i}", judge_id="trained:m0", kind=JudgeKind.TRAINED, model="m", probs=p
            )
            for i, p in enumerate(weak)
        ]
    )
    params = {
        "method": "mean",
        "min_confidence": 0.0,
        "protocol": "direct",
        "judges": ["trained:m0"],
    }
    store.insert_ignore(
        [LabelSet(name=W2S_SET, experiment_id=exp.id, method="mean", params=params)]
    )
    ls = store.first(LabelSet, LabelSet.name == W2S_SET)
    assert ls is not None and ls.id is not None
    # b0 (correct 0) labelled 0 at 0.8, b1 (correct 1) labelled 0 at 0.6; b2 is validation
    store.insert_ignore(
        [
            Label(
                label_set_id=ls.id,
                question_id=qs[b].id,
                soft=s,
                hard=h,
                confidence=c,
                n_judges=1,
                agreement=1.0,
            )
            for b, s, h, c in (
                ("b0", [0.8, 0.2], 0, 0.8),
                ("b1", [0.6, 0.4], 0, 0.6),
                ("b2", [0.9, 0.1], 0, 0.9),
            )
        ]
    )
    right = {q: [0.9, 0.1] if i % 2 == 0 else [0.1, 0.9] for i, q in enumerate(test)}
    seed0 = {**right, test[3]: [0.9, 0.1]}  # wrong on t3: 0.75
    inputs = {"test_question_ids": test, "train_question_ids": [qs["b0"].id, qs["b1"].id]}
    runs = [
        ("student", 0, seed0, W2S_SET),
        ("student", 1, right, W2S_SET),
        ("student", 2, right, W2S_SET),
        ("ceiling", 0, right, None),
        ("ceiling", 1, right, None),
    ]
    store.insert_ignore(
        [
            TrainingRun(
                name=f"w/{method}/s{seed}",
                experiment_id=exp.id,
                method=method,
                inputs={**inputs, "label_set": label_set},
                config={"seed": seed, "loss": "xent" if method == "ceiling" else "logconf"},
                metrics={"test_probs": probs},
            )
            for method, seed, probs, label_set in runs
        ]
    )
    return store
