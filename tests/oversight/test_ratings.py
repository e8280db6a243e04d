import json
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import brentq

from oversight.ratings import (
    DEFAULT_PRIOR_SD_ELO,
    ELO_PER_LOGIT,
    Game,
    RatingError,
    elo_difference,
    fit_ratings,
    games_from_rows,
    read_games,
    win_probability,
)


def results(a: str, b: str, wins: int, losses: int, draws: int = 0) -> list[Game]:
    return (
        [Game(player_a=a, player_b=b, score_a=1.0)] * wins
        + [Game(player_a=a, player_b=b, score_a=0.0)] * losses
        + [Game(player_a=a, player_b=b, score_a=0.5)] * draws
    )


def test_elo_scale_constants() -> None:
    # 400 points are 10:1 odds; one logit is 400 / ln 10 = 173.72 points.
    assert abs(ELO_PER_LOGIT - 173.7178) < 1e-4
    assert win_probability(1400, 1000) == pytest.approx(10 / 11)
    assert win_probability(1000, 1000) == 0.5
    assert elo_difference(0.75) == pytest.approx(400 * math.log10(3))  # 190.85
    assert elo_difference(0.75) == pytest.approx(190.848, abs=1e-3)
    with pytest.raises(RatingError, match="no finite rating difference"):
        elo_difference(1.0)


def test_two_players_maximum_likelihood_is_the_log_odds_of_the_score() -> None:
    # 7 wins of 10: the MLE difference is 400 log10(0.7 / 0.3) = 147.19, split around 1000.
    r = fit_ratings(results("a", "b", 7, 3), prior_sd_elo=None, n_resamples=0).by_player()
    assert r["a"].rating - r["b"].rating == pytest.approx(147.19, abs=0.01)
    assert r["a"].rating == pytest.approx(1000 + 147.19 / 2, abs=0.01)
    assert r["b"].rating == pytest.approx(1000 - 147.19 / 2, abs=0.01)
    assert (r["a"].games, r["a"].score, r["b"].score) == (10.0, pytest.approx(0.7), 0.3)


def test_soft_scores_and_draws_count_as_fractional_wins() -> None:
    # Ten games scored 0.7 each, or 6 wins, 2 losses, 2 draws: the same 0.7 score.
    soft = [Game(player_a="a", player_b="b", score_a=0.7)] * 10
    mixed = results("a", "b", 6, 2, draws=2)
    for games in (soft, mixed):
        r = fit_ratings(games, prior_sd_elo=None, n_resamples=0).by_player()
        assert r["a"].rating - r["b"].rating == pytest.approx(elo_difference(0.7), abs=1e-6)
    draws = results("a", "b", 0, 0, draws=5) + results("b", "c", 0, 0, draws=3)
    for rating in fit_ratings(draws, prior_sd_elo=None, n_resamples=0).ratings:
        assert rating.rating == pytest.approx(1000.0, abs=1e-6)


def test_prior_shrinks_two_players_by_its_stationarity_condition() -> None:
    # With theta = +-d/2 and prior variance v (logits^2), the optimum solves
    # W - n sigmoid(d) = d / (2 v). Default v = 4: 7 - 10 sigmoid(d) = d / 8.
    v = (DEFAULT_PRIOR_SD_ELO / ELO_PER_LOGIT) ** 2
    assert v == pytest.approx(4.0)
    d = brentq(lambda x: 7 - 10 / (1 + math.exp(-x)) - x / (2 * v), 0.0, 5.0)
    r = fit_ratings(results("a", "b", 7, 3), n_resamples=0).by_player()
    assert r["a"].rating - r["b"].rating == pytest.approx(d * ELO_PER_LOGIT, abs=1e-4)
    assert 0 < r["a"].rating - r["b"].rating < 147.19
    # A player who won every game stays finite with the prior: 10 - 10 sigmoid(d) = d / 8.
    d_all = brentq(lambda x: 10 - 10 / (1 + math.exp(-x)) - x / (2 * v), 0.0, 20.0)
    r = fit_ratings(results("a", "b", 10, 0), n_resamples=0).by_player()
    assert r["a"].rating - r["b"].rating == pytest.approx(d_all * ELO_PER_LOGIT, abs=1e-4)


def test_no_prior_names_the_players_with_infinite_ratings() -> None:
    with pytest.raises(RatingError, match="a never conceded"):
        fit_ratings(results("a", "b", 4, 0), prior_sd_elo=None)
    # a and b trade wins but both always beat c: the group {a, b} is rated +inf.
    games = results("a", "b", 2, 1) + results("a", "c", 3, 0) + results("c", "b", 0, 2)
    with pytest.raises(RatingError, match="a, b never conceded"):
        fit_ratings(games, prior_sd_elo=None)
    # Disconnected players have no relative rating either.
    with pytest.raises(RatingError, match="never conceded"):
        fit_ratings(results("a", "b", 2, 1) + results("c", "d", 1, 1), prior_sd_elo=None)


def test_anchor_player_gets_the_anchor_rating() -> None:
    games = results("a", "b", 7, 3) + results("b", "c", 6, 4) + results("a", "c", 8, 2)
    mean = fit_ratings(games, n_resamples=0).by_player()
    anchored = fit_ratings(games, anchor="c", anchor_rating=1200, n_resamples=50).by_player()
    assert anchored["c"].rating == 1200
    assert (anchored["c"].lower, anchored["c"].upper) == (1200, 1200)
    for p in "ab":
        assert anchored[p].rating - 1200 == pytest.approx(mean[p].rating - mean["c"].rating)
    assert sum(r.rating for r in mean.values()) / 3 == pytest.approx(1000)
    with pytest.raises(RatingError, match="anchor player 'z' played no game"):
        fit_ratings(games, anchor="z")


def fisher_sd_elo(true_logits: np.ndarray, n_per_pair: int) -> np.ndarray:
    """Asymptotic sd of each zero-sum MLE strength from the Fisher information at the truth."""
    k = true_logits.size
    info = np.zeros((k, k))
    for i in range(k):
        for j in range(i + 1, k):
            p = 1 / (1 + math.exp(-(true_logits[i] - true_logits[j])))
            h = n_per_pair * p * (1 - p)
            info[i, i] += h
            info[j, j] += h
            info[i, j] -= h
            info[j, i] -= h
    cov = np.linalg.pinv(info)  # the pseudo-inverse is the covariance of the zero-sum estimate
    return np.sqrt(np.diag(cov)) * ELO_PER_LOGIT


def simulate(true_elo: dict[str, float], n_per_pair: int, seed: int) -> list[Game]:
    rng = np.random.default_rng(seed)
    names = sorted(true_elo)
    games = []
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            p = win_probability(true_elo[a], true_elo[b])
            for k, won in enumerate(rng.random(n_per_pair) < p):
                # alternate seats so player order carries no information
                if k % 2:
                    games.append(Game(player_a=b, player_b=a, score_a=float(not won)))
                else:
                    games.append(Game(player_a=a, player_b=b, score_a=float(won)))
    return games


def test_recovers_known_strengths_from_simulated_games() -> None:
    true_elo = {"p0": 700.0, "p1": 900.0, "p2": 1000.0, "p3": 1150.0, "p4": 1250.0}
    assert sum(true_elo.values()) / 5 == 1000
    n_per_pair = 400
    sd = fisher_sd_elo(np.array(list(true_elo.values())) / ELO_PER_LOGIT, n_per_pair)
    assert 10 < sd.max() < 25  # 400 games per pair: about 15 Elo points per player
    games = simulate(true_elo, n_per_pair, seed=7)
    for prior in (None, DEFAULT_PRIOR_SD_ELO):
        fitted = fit_ratings(games, prior_sd_elo=prior, n_resamples=0).by_player()
        for (name, truth), s in zip(true_elo.items(), sd, strict=True):
            assert abs(fitted[name].rating - truth) < 4 * s, (name, prior)
    # Ratings ordered as the truth.
    order = [r.player for r in fit_ratings(games, n_resamples=0).ratings]
    assert order == ["p4", "p3", "p2", "p1", "p0"]


def test_bootstrap_interval_width_matches_the_asymptotic_standard_error() -> None:
    true_elo = {"a": 900.0, "b": 1000.0, "c": 1100.0}
    n_per_pair = 150
    sd = fisher_sd_elo(np.array(list(true_elo.values())) / ELO_PER_LOGIT, n_per_pair)
    games = simulate(true_elo, n_per_pair, seed=3)
    ratings = fit_ratings(games, n_resamples=300, seed=1)
    assert ratings.n_resamples == 300 and ratings.bootstrap_failures == 0
    for r, s in zip(sorted(ratings.ratings, key=lambda r: r.player), sd, strict=True):
        assert r.lower < r.rating < r.upper
        width = r.upper - r.lower
        assert 0.75 * 2 * 1.96 * s < width < 1.33 * 2 * 1.96 * s, (r.player, width, s)
    again = fit_ratings(games, n_resamples=300, seed=1)
    assert again == ratings  # seeded
    other = fit_ratings(games, n_resamples=300, seed=2)
    assert other.ratings[0].lower != ratings.ratings[0].lower


def test_grouped_bootstrap_resamples_whole_groups() -> None:
    # Each result repeated 4 times within its group: the grouped interval is that of the 20
    # underlying games, wider than treating the 80 copies as independent.
    base = results("a", "b", 13, 7)
    copies = [g.model_copy(update={"group": f"q{i}"}) for i, g in enumerate(base) for _ in range(4)]
    ungrouped = [g.model_copy(update={"group": None}) for g in copies]
    grouped_r = fit_ratings(copies, prior_sd_elo=None, n_resamples=200).by_player()["a"]
    single_r = fit_ratings(base, prior_sd_elo=None, n_resamples=200).by_player()["a"]
    flat_r = fit_ratings(ungrouped, prior_sd_elo=None, n_resamples=200).by_player()["a"]
    grouped_w = grouped_r.upper - grouped_r.lower
    assert grouped_r.rating == pytest.approx(single_r.rating)
    assert grouped_w == pytest.approx(single_r.upper - single_r.lower, rel=0.25)
    assert grouped_w > 1.5 * (flat_r.upper - flat_r.lower)


def test_bootstrap_without_prior_counts_resamples_with_no_estimate() -> None:
    # 9 wins of 10: a resample without b's one win has no finite estimate (P = 0.9^10 ~ 0.35,
    # more than the 2.5% tail), so a's upper end is +inf and b's lower end -inf.
    r = fit_ratings(results("a", "b", 9, 1), prior_sd_elo=None, n_resamples=200, seed=0)
    assert 40 < r.bootstrap_failures < 100
    a, b = r.by_player()["a"], r.by_player()["b"]
    assert a.upper == math.inf and b.lower == -math.inf
    assert a.lower < a.rating and b.rating < b.upper
    # Anchored at b: a is still unbounded above, b is a point.
    r = fit_ratings(results("a", "b", 9, 1), prior_sd_elo=None, anchor="b", n_resamples=100)
    assert r.by_player()["a"].upper == math.inf
    assert (r.by_player()["b"].lower, r.by_player()["b"].upper) == (1000, 1000)
    # 49 wins of 50: P(no loss in a resample) = 0.98^50 ~ 0.36; with 1 win of 50 mirrored.
    r = fit_ratings(results("a", "b", 1, 49), prior_sd_elo=None, n_resamples=100)
    assert r.by_player()["a"].lower == -math.inf


def test_weights_count_games_fractionally() -> None:
    half = [g.model_copy(update={"weight": 2.0}) for g in results("a", "b", 7, 3)]
    doubled = results("a", "b", 14, 6)
    w = fit_ratings(half, n_resamples=0).by_player()
    d = fit_ratings(doubled, n_resamples=0).by_player()
    assert w["a"].rating == pytest.approx(d["a"].rating, abs=1e-6)
    assert w["a"].games == 20


def test_bad_games_name_source_row_and_field(tmp_path: Path) -> None:
    with pytest.raises(RatingError, match=r"games\.jsonl: row 2: score_a: .*less than or equal"):
        games_from_rows(
            [
                {"player_a": "a", "player_b": "b", "score_a": 1},
                {"player_a": "a", "player_b": "b", "score_a": 1.5},
            ],
            "games.jsonl",
        )
    with pytest.raises(RatingError, match=r"row 1: game: .*cannot play itself"):
        games_from_rows([{"player_a": "a", "player_b": "a", "score_a": 1}], "x")
    with pytest.raises(RatingError, match="row 1: player_b: Field required"):
        games_from_rows([{"player_a": "a", "score_a": 1}], "x")
    with pytest.raises(RatingError, match="no games"):
        fit_ratings([])
    bad = tmp_path / "g.jsonl"
    bad.write_text('{"player_a": "a", "player_b": "b", "score_a": 1}\n{oops\n')
    with pytest.raises(RatingError, match=r"g\.jsonl: line 2: not JSON"):
        read_games(bad)
    with pytest.raises(RatingError, match="no such file"):
        read_games(tmp_path / "missing.jsonl")


def test_read_games_from_jsonl_and_csv(tmp_path: Path) -> None:
    rows = [
        {"player_a": "a", "player_b": "b", "score_a": 0.8, "group": "q1"},
        {"player_a": "b", "player_b": "a", "score_a": 0.4, "group": "q1"},
    ]
    jl = tmp_path / "g.jsonl"
    jl.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    c = tmp_path / "g.csv"
    c.write_text("player_a,player_b,score_a,weight,group\na,b,0.8,,q1\nb,a,0.4,,q1\n")
    assert read_games(jl) == read_games(c) == games_from_rows(rows, "rows")
    assert read_games(c)[0].weight == 1.0
    with pytest.raises(RatingError, match=r"g\.csv: row 1: score_a: .*number"):
        c.write_text("player_a,player_b,score_a\na,b,won\n")
        read_games(c)


players = st.sampled_from(["a", "b", "c", "d"])
game_st = st.builds(
    lambda pair, s, w: Game(player_a=pair[0], player_b=pair[1], score_a=s, weight=w),
    st.tuples(players, players).filter(lambda t: t[0] != t[1]),
    st.floats(0.0, 1.0),
    st.floats(0.1, 3.0),
)


@settings(max_examples=40, deadline=None)
@given(st.lists(game_st, min_size=1, max_size=15), st.randoms(use_true_random=False))
def test_ratings_ignore_game_order_and_seat(games: list[Game], rnd: object) -> None:
    fitted = {r.player: r.rating for r in fit_ratings(games, n_resamples=0).ratings}
    shuffled = list(games)
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    flipped = [
        Game(player_a=g.player_b, player_b=g.player_a, score_a=1 - g.score_a, weight=g.weight)
        if i % 2
        else g
        for i, g in enumerate(shuffled)
    ]
    again = {r.player: r.rating for r in fit_ratings(flipped, n_resamples=0).ratings}
    assert again.keys() == fitted.keys()
    for p in fitted:
        assert again[p] == pytest.approx(fitted[p], abs=1e-4)
    assert np.mean(list(fitted.values())) == pytest.approx(1000.0)


@settings(max_examples=40, deadline=None)
@given(st.lists(game_st, min_size=1, max_size=12), st.data())
def test_more_score_for_a_never_lowers_its_lead(games: list[Game], data: st.DataObject) -> None:
    i = data.draw(st.integers(0, len(games) - 1))
    g = games[i]
    better = g.model_copy(update={"score_a": data.draw(st.floats(g.score_a, 1.0))})
    before = fit_ratings(games, n_resamples=0).by_player()
    after = fit_ratings([*games[:i], better, *games[i + 1 :]], n_resamples=0).by_player()
    lead_before = before[g.player_a].rating - before[g.player_b].rating
    lead_after = after[g.player_a].rating - after[g.player_b].rating
    assert lead_after >= lead_before - 1e-6
