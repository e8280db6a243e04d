"""Every number of report.md against a value worked out by hand on the tiny store.

The tiny store (see ``stores.build_tiny_store``): correct answers d0: 0, d1: 1, d2: 0, d3: 1.
The experiment's ensemble (a, b) averages to d0 [0.6, 0.4], d1 [0.35, 0.65], d2 [0.3, 0.7],
d3 [0.5, 0.5]; the replayed ``new`` (c) says [0.5, 0.5] everywhere, 0.9 on whichever answer
is shown first; the live human Ann ends d0 at [0.9, 0.1] and d1 at [0.2, 0.8].
"""

from __future__ import annotations

import math

import pytest

from oversight.metrics import brier_score, expected_calibration_error, reliability_bins
from oversight.report import experiment_summary
from oversight.report.calibration import CalibrationRow, calibration_rows, reliability
from oversight.report.context import group_verdicts, load_context
from oversight.report.groups import HUMAN
from oversight.report.position import PositionRow, order_effects, position_rows
from oversight.report.rounds import round_points
from oversight.report.summary import ENSEMBLE
from oversight.store import Store
from tests.oversight.report.stores import TINY


def test_brier_by_hand() -> None:
    # (0.9 - 1)^2 = 0.01, (0.3 - 0)^2 = 0.09, (0.5 - 1)^2 = 0.25: mean 0.35 / 3
    assert brier_score([0.9, 0.3, 0.5], [1, 0, 1]) == pytest.approx(0.35 / 3)
    assert brier_score([1.0], [1.0]) == 0.0
    assert math.isnan(brier_score([], []))
    with pytest.raises(ValueError):
        brier_score([0.5], [1, 0])


def test_reliability_bins_are_the_bins_of_ece() -> None:
    conf, correct = [0.55, 0.58, 0.95, 1.0], [1, 0, 1, 1]
    bins = reliability_bins(conf, correct)
    assert bins == [(5, 2, pytest.approx(0.565), 0.5), (9, 2, pytest.approx(0.975), 1.0)]
    # ECE = 2/4 * |0.5 - 0.565| + 2/4 * |1 - 0.975| = 0.0325 + 0.0125
    assert expected_calibration_error(conf, correct) == pytest.approx(0.045)
    assert sum(n / 4 * abs(acc - c) for _, n, c, acc in bins) == pytest.approx(0.045)


def test_group_verdicts_follow_the_accuracy_tables_rules(tiny_store: Store) -> None:
    ctx = load_context(tiny_store, TINY)
    by_label = {g.label: g for g in ctx.groups}
    assert list(by_label) == [ENSEMBLE, "ensemble new", HUMAN]
    ensemble = group_verdicts(ctx, by_label[ENSEMBLE])
    assert [(v.debate_id, v.probs) for v in ensemble] == [
        ("d0", pytest.approx((0.6, 0.4))),
        ("d1", pytest.approx((0.35, 0.65))),
        ("d2", pytest.approx((0.3, 0.7))),
        ("d3", pytest.approx((0.5, 0.5))),
    ]
    human = group_verdicts(ctx, by_label[HUMAN])
    assert [(v.debate_id, v.judge_id, v.p_correct) for v in human] == [
        ("d0", "human:Ann", 0.9),
        ("d1", "human:Ann", 0.8),
    ]
    # The same verdicts give the terminal report's accuracy.
    rows = {(r["protocol"], r["judge"]): r for r in experiment_summary(tiny_store, TINY)["judges"]}
    assert rows[("debate", ENSEMBLE)]["accuracy"] == 1.0
    assert rows[("consultancy", ENSEMBLE)]["accuracy"] == 0.0  # 0.3 wrong, 0.5 a tie


def test_calibration_by_hand(tiny_store: Store) -> None:
    rows = {(r.protocol, r.group): r for r in calibration_rows(load_context(tiny_store, TINY))}
    # debate, ensemble: confidences 0.6 and 0.65 (one bin), both right: ECE |1 - 0.625|;
    # Brier ((1 - 0.6)^2 + (1 - 0.65)^2) / 2; every correct answer above every wrong one.
    assert rows[("debate", ENSEMBLE)] == CalibrationRow(
        "debate", ENSEMBLE, 2, pytest.approx(0.375), pytest.approx(0.14125), 1.0
    )
    # consultancy, ensemble: d2 0.7 sure of the wrong answer, d3 a tie (not correct):
    # ECE 0.5 * 0.7 + 0.5 * 0.5; Brier (0.7^2 + 0.5^2) / 2; AUROC: correct answers get 0.3
    # and 0.5, wrong ones 0.7 and 0.5: only the 0.5 / 0.5 pair counts, half: 0.5 / 4.
    assert rows[("consultancy", ENSEMBLE)] == CalibrationRow(
        "consultancy", ENSEMBLE, 2, pytest.approx(0.6), pytest.approx(0.37), 0.125
    )
    # the replay: always 0.5 and not correct: ECE 0.5, Brier 0.25, AUROC chance.
    assert rows[("debate", "ensemble new")] == CalibrationRow(
        "debate", "ensemble new", 2, 0.5, 0.25, 0.5
    )
    # the human, per verdict: 0.9 and 0.8, both right: ECE (0.1 + 0.2) / 2; Brier (0.01 + 0.04) / 2
    assert rows[("debate", HUMAN)] == CalibrationRow(
        "debate", HUMAN, 2, pytest.approx(0.15), pytest.approx(0.025), 1.0
    )
    assert ("consultancy", HUMAN) not in rows


def test_calibration_follows_the_tie_rule(tiny_store: Store) -> None:
    ctx = load_context(tiny_store, TINY, ties="half")
    rows = {(r.protocol, r.group): r for r in calibration_rows(ctx)}
    # the tie on d3 is half correct at confidence 0.5: only d2 is off, by 0.7, weight 0.5
    assert rows[("consultancy", ENSEMBLE)].ece == pytest.approx(0.35)


def test_reliability_bins_per_group(tiny_store: Store) -> None:
    bins = [b for b in reliability(load_context(tiny_store, TINY)) if b.group == ENSEMBLE]
    # confidences 0.6, 0.65 (right), 0.7 (wrong), 0.5 (tie, not correct)
    assert [(b.low, b.verdicts, b.accuracy) for b in bins] == [
        (0.5, 1, 0.0),
        (0.6, 2, 1.0),
        (0.7, 1, 0.0),
    ]
    assert bins[1].confidence == pytest.approx(0.625)


def test_order_effects_by_hand() -> None:
    # A shown first gets 0.8, A shown second 0.4: orders disagree; shift (0.8 - 0.4) / 2
    disagree, shift = order_effects({"0,1": [0.8, 0.2], "1,0": [0.4, 0.6]})  # type: ignore[misc]
    assert disagree and shift == pytest.approx(0.2)
    # a tie in one order favours both answers: not the same as favouring A
    assert order_effects({"0,1": [0.5, 0.5], "1,0": [0.7, 0.3]}) == (True, pytest.approx(-0.1))
    assert order_effects({"0,1": [0.6, 0.4], "1,0": [0.6, 0.4]}) == (False, 0.0)
    assert order_effects({"0,1": [0.6, 0.4]}) is None


def test_position_bias_by_hand(tiny_store: Store) -> None:
    rows = position_rows(load_context(tiny_store, TINY))
    debate = [r for r in rows if r.protocol == "debate"]
    # a: d0 disagrees, shift 0.2; d1 agrees, shift 0. b: d0 disagrees (a tie against A),
    # shift -0.1; d1 agrees, 0. c: 0.9 on the first answer in both orders, shift 0.4.
    # The human's verdicts have one order each: not counted at all.
    assert debate == [
        PositionRow("debate", ENSEMBLE, "a", 2, 0.5, pytest.approx(0.1)),
        PositionRow("debate", ENSEMBLE, "b", 2, 0.5, pytest.approx(-0.05)),
        PositionRow("debate", ENSEMBLE, ENSEMBLE, 4, 0.5, pytest.approx(0.025), is_group=True),
        PositionRow("debate", "ensemble new", "c", 2, 1.0, pytest.approx(0.4)),
        PositionRow("debate", "ensemble new", "ensemble new", 2, 1.0, pytest.approx(0.4), True),
    ]
    consultancy = {
        r.judge: (r.verdicts, r.disagree, r.first_shift)
        for r in rows
        if r.protocol == "consultancy"
    }
    assert consultancy[ENSEMBLE] == (4, 0.0, 0.0)


def test_rounds_by_hand(tiny_store: Store) -> None:
    points = round_points(load_context(tiny_store, TINY))
    # Ann: before any speech 0.5 and 0.5 (ties); after round 1 0.7 (d0) and 0.4 (d1);
    # after round 2 only d0 remains, 0.9. Final verdicts are not points.
    got = [(p.group, p.rounds_read, p.verdicts, p.p_correct, p.accuracy) for p in points]
    assert got == [
        (HUMAN, 0, 2, 0.5, 0.0),
        (HUMAN, 1, 2, pytest.approx(0.55), 0.5),
        (HUMAN, 2, 1, 0.9, 1.0),
    ]
    assert all(p.protocol == "debate" for p in points)
    # two questions, 0.7 and 0.4: resampled means are 0.4, 0.55 or 0.7, each end with
    # chance 1/4, so the 2.5% and 97.5% percentiles are the ends
    assert (points[1].ci_low, points[1].ci_high) == (pytest.approx(0.4), pytest.approx(0.7))


def test_same_debates_and_wins_by_reach_the_context(tiny_store: Store) -> None:
    ctx = load_context(tiny_store, TINY, same_debates=True, wins_by=HUMAN)
    # the human judged only the two debates; consultancy has no human, so both stay there
    assert [d.id for d in ctx.debates] == ["d0", "d1", "d2", "d3"]
    assert ctx.deciding is not None and ctx.deciding.label == HUMAN
