"""Player ratings from games: Bradley-Terry strengths by maximum likelihood, on the Elo scale.

A game is ``(player_a, player_b, score_a)`` with ``score_a`` in [0, 1]: 1 a win for ``a``, 0 a
loss, 0.5 a draw, and anything between a soft result (a judge's probability for ``a``'s side).
The model is P(a beats b) = sigmoid(theta_a - theta_b); a game contributes
``score_a * log P + (1 - score_a) * log(1 - P)`` (times its weight) to the log-likelihood.
Strengths are reported on the Elo scale, ``400 / ln 10`` (about 173.7) points per logit, so a
difference of 400 points means 10:1 odds; the scale is anchored so that the players' mean is
1000, or a named anchor player has 1000.

Prior (the rule for players who won or lost everything): each strength has an independent
Gaussian prior N(0, ``prior_sd_elo``) around the mean player. Its default, 2 logits (about 347
Elo points), has the curvature at the mean of one virtual draw against an average player
(a draw adds ``1/4`` per logit squared; ``1 / 2**2`` is the same), so it moves ratings little
once a player has tens of games, and keeps a player who won every game finite. With
``prior_sd_elo=None`` the fit is the plain maximum-likelihood estimate, which exists only
when every group of players both scored and conceded against the rest (Ford 1957): otherwise
:class:`RatingError` names the players whose rating would be infinite.

Intervals: a percentile bootstrap that resamples games (or whole groups of games, e.g. the
two seats of one question, which are not independent) with replacement, seeded, refitting each
resample. With an anchor player the intervals are relative to that player (its own is a point).
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from scipy.optimize import minimize
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

ELO_PER_LOGIT = 400.0 / math.log(10.0)
"""Elo points per unit of Bradley-Terry log-odds."""

DEFAULT_PRIOR_SD_ELO = 2.0 * ELO_PER_LOGIT
"""2 logits: the curvature of one virtual draw against an average player (see module doc)."""

PRIOR_RULE = (
    "Gaussian prior N(0, {sd:.0f} Elo) on each strength around the mean player "
    "(about one virtual draw against an average player)"
)
"""The prior as reports state it (format with ``sd``)."""


class RatingError(ValueError):
    """Ratings that cannot be fitted as asked: bad games, no finite estimate, unknown anchor."""


class Game(BaseModel):
    """One game between two players; ``score_a`` is ``player_a``'s result in [0, 1]."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    player_a: str = Field(min_length=1)
    player_b: str = Field(min_length=1)
    score_a: float = Field(ge=0.0, le=1.0, allow_inf_nan=False)
    weight: float = Field(default=1.0, gt=0.0, allow_inf_nan=False)
    """How many games this one counts for (e.g. 1/2 for each seat of a swapped pair)."""
    group: str | None = None
    """Games sharing a group (a question) are resampled together by the bootstrap."""

    @model_validator(mode="after")
    def _two_players(self) -> Game:
        if self.player_a == self.player_b:
            raise ValueError(f"a player cannot play itself ({self.player_a!r})")
        return self


class Rating(BaseModel):
    """One player's rating, its bootstrap interval, and what it was fitted from."""

    player: str
    rating: float
    lower: float
    upper: float
    games: float
    """Total weight of the player's games."""
    score: float
    """The player's mean score over its games (weighted)."""


class Ratings(BaseModel):
    """A fitted rating list, best first, with the settings that produced it."""

    ratings: list[Rating]
    anchor: str | None
    anchor_rating: float
    prior_sd_elo: float | None
    n_games: int
    n_resamples: int
    level: float
    seed: int
    bootstrap_failures: int = 0
    """Resamples with no finite estimate (only without a prior). In each, the players who
    never conceded count as +inf and those who never scored as -inf, so an interval end can
    be infinite; other ratings of that resample are undefined and left out."""

    def by_player(self) -> dict[str, Rating]:
        return {r.player: r for r in self.ratings}


def win_probability(rating_a: float, rating_b: float) -> float:
    """Expected score of a player rated ``rating_a`` against one rated ``rating_b``."""
    return 1.0 / (1.0 + 10.0 ** ((rating_b - rating_a) / 400.0))


def elo_difference(score: float) -> float:
    """The rating difference whose expected score is ``score``: ``400 log10(p / (1 - p))``."""
    if not 0.0 < score < 1.0:
        raise RatingError(f"a score of {score} has no finite rating difference")
    return 400.0 * math.log10(score / (1.0 - score))


def games_from_rows(rows: Iterable[Mapping[str, Any]], source: str) -> list[Game]:
    """Validate raw rows into games; an error names ``source``, the row (from 1) and field."""
    games = []
    for i, row in enumerate(rows, start=1):
        try:
            games.append(Game.model_validate(dict(row)))
        except ValidationError as exc:
            err = exc.errors()[0]
            field = ".".join(str(p) for p in err["loc"]) or "game"
            raise RatingError(f"{source}: row {i}: {field}: {err['msg']}") from None
    return games


def read_games(path: Path) -> list[Game]:
    """Games from a ``.jsonl`` file (one object a line) or a ``.csv`` file with a header."""
    if not path.is_file():
        raise RatingError(f"{path}: no such file")
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".csv":
        rows: list[dict[str, Any]] = []
        for row in csv.DictReader(text.splitlines()):
            rows.append({k: v for k, v in row.items() if v not in ("", None)})
        return games_from_rows(rows, str(path))
    if path.suffix != ".jsonl":
        raise RatingError(f"{path}: games must be a .jsonl or .csv file")
    parsed = []
    for i, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise RatingError(f"{path}: line {i}: not JSON ({exc.msg})") from None
        if not isinstance(obj, dict):
            raise RatingError(f"{path}: line {i}: a game must be a JSON object")
        parsed.append(obj)
    return games_from_rows(parsed, str(path))


class _Arrays:
    """Games as index arrays over a sorted player list."""

    def __init__(self, games: Sequence[Game]) -> None:
        self.players = sorted({g.player_a for g in games} | {g.player_b for g in games})
        pos = {p: i for i, p in enumerate(self.players)}
        self.a = np.array([pos[g.player_a] for g in games], dtype=int)
        self.b = np.array([pos[g.player_b] for g in games], dtype=int)
        self.s = np.array([g.score_a for g in games], dtype=float)
        self.w = np.array([g.weight for g in games], dtype=float)
        groups = [g.group if g.group is not None else f"\0{i}" for i, g in enumerate(games)]
        keys = sorted(set(groups))
        gpos = {k: i for i, k in enumerate(keys)}
        self.group = np.array([gpos[k] for k in groups], dtype=int)
        self.n_groups = len(keys)


def _components(
    arr: _Arrays, w: npt.NDArray[np.float64]
) -> tuple[npt.NDArray[np.int_], set[int], set[int]]:
    """Strong components of the graph "a took some score from b", with the components that
    conceded to another one and those that scored against another one.

    The maximum-likelihood estimate exists iff there is one component (Ford 1957).
    """
    n = len(arr.players)
    won = w * arr.s > 0
    lost = w * (1.0 - arr.s) > 0
    rows = np.concatenate([arr.a[won], arr.b[lost]])
    cols = np.concatenate([arr.b[won], arr.a[lost]])
    graph = coo_matrix((np.ones(rows.size), (rows, cols)), shape=(n, n)).tocsr()
    _, label = connected_components(graph, directed=True, connection="strong")
    cross = label[rows] != label[cols]
    conceded = set(label[cols[cross]].tolist())
    scored = set(label[rows[cross]].tolist())
    return np.asarray(label), conceded, scored


def _unrateable(arr: _Arrays, w: npt.NDArray[np.float64]) -> list[str] | None:
    """Players without a finite maximum-likelihood rating, or ``None`` if all have one.

    Some component never conceded to the rest (the condensation is a DAG, so one exists):
    its players would be rated +inf and are returned.
    """
    label, conceded, _ = _components(arr, w)
    if label.max() == 0:
        return None
    culprit = next(c for c in range(int(label.max()) + 1) if c not in conceded)
    return [p for p, c in zip(arr.players, label, strict=True) if c == culprit]


def _infinite_resample(
    arr: _Arrays, w: npt.NDArray[np.float64], anchor_index: int | None, anchor_rating: float
) -> npt.NDArray[np.float64]:
    """What a resample without a finite estimate says about each rating, on the Elo scale.

    A component that never conceded is infinitely far above the rest (+inf), one that never
    scored infinitely far below (-inf); any other rating is undefined (NaN, left out of
    the quantiles). With an anchor, the sides are taken relative to the anchor's component.
    """
    label, conceded, scored = _components(arr, w)
    top = {c for c in range(int(label.max()) + 1) if c not in conceded and c in scored}
    bottom = {c for c in range(int(label.max()) + 1) if c not in scored and c in conceded}
    values = np.full(len(arr.players), np.nan)
    if anchor_index is None:
        values[np.isin(label, list(top))] = np.inf
        values[np.isin(label, list(bottom))] = -np.inf
        return values
    home = label[anchor_index]
    if home in top:
        values[label != home] = -np.inf
    elif home in bottom:
        values[label != home] = np.inf
    else:
        values[np.isin(label, list(top))] = np.inf
        values[np.isin(label, list(bottom))] = -np.inf
    values[anchor_index] = anchor_rating
    return values


def _fit_logits(
    arr: _Arrays,
    w: npt.NDArray[np.float64],
    prior_var: float | None,
    x0: npt.NDArray[np.float64] | None = None,
) -> npt.NDArray[np.float64]:
    """Penalized maximum likelihood strengths in logits, summing to zero.

    The likelihood only sees differences; adding ``(sum theta)^2 / 2`` picks the zero-sum
    point of the optimal line without moving it (with a prior the optimum is zero-sum
    already: the prior's gradient sums to ``sum theta / var`` and the likelihood's to 0).
    """
    n = len(arr.players)
    inv_var = 0.0 if prior_var is None else 1.0 / prior_var
    a, b, s = arr.a, arr.b, arr.s

    def fun(theta: npt.NDArray[np.float64]) -> tuple[float, npt.NDArray[np.float64]]:
        d = theta[a] - theta[b]
        # -[s log sig(d) + (1 - s) log sig(-d)] = logaddexp(0, d) - s d
        nll = float(np.sum(w * (np.logaddexp(0.0, d) - s * d)))
        total = float(theta.sum())
        value = nll + 0.5 * inv_var * float(theta @ theta) + 0.5 * total**2
        r = w * (s - _sigmoid(d))
        grad = np.zeros(n)
        np.add.at(grad, a, -r)
        np.add.at(grad, b, r)
        return value, grad + inv_var * theta + total

    def hess(theta: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        p = _sigmoid(theta[a] - theta[b])
        h = w * p * (1.0 - p)
        m = np.zeros((n, n))
        np.add.at(m, (a, a), h)
        np.add.at(m, (b, b), h)
        np.add.at(m, (a, b), -h)
        np.add.at(m, (b, a), -h)
        return m + inv_var * np.eye(n) + 1.0

    start = np.zeros(n) if x0 is None else x0
    res = minimize(fun, start, jac=True, hess=hess, method="trust-exact", options={"gtol": 1e-9})
    theta = np.asarray(res.x, dtype=float)
    return theta - theta.mean()


def _sigmoid(x: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    return np.asarray(0.5 * (1.0 + np.tanh(0.5 * x)), dtype=float)


def _to_elo(
    theta: npt.NDArray[np.float64], anchor_index: int | None, anchor_rating: float
) -> npt.NDArray[np.float64]:
    shift = theta[anchor_index] if anchor_index is not None else theta.mean()
    return np.asarray(anchor_rating + ELO_PER_LOGIT * (theta - shift), dtype=float)


def fit_ratings(
    games: Sequence[Game],
    *,
    anchor: str | None = None,
    anchor_rating: float = 1000.0,
    prior_sd_elo: float | None = DEFAULT_PRIOR_SD_ELO,
    n_resamples: int = 1000,
    level: float = 0.95,
    seed: int = 0,
) -> Ratings:
    """Bradley-Terry ratings on the Elo scale with percentile bootstrap intervals.

    ``n_resamples=0`` skips the bootstrap (the interval is then the point estimate).
    """
    if not games:
        raise RatingError("no games to rate")
    if prior_sd_elo is not None and not prior_sd_elo > 0:
        raise RatingError(f"prior_sd_elo must be positive or None, not {prior_sd_elo}")
    if not 0.0 < level < 1.0:
        raise RatingError(f"level must be in (0, 1), not {level}")
    if n_resamples < 0:
        raise RatingError(f"n_resamples must be >= 0, not {n_resamples}")
    arr = _Arrays(games)
    if anchor is not None and anchor not in arr.players:
        raise RatingError(f"anchor player {anchor!r} played no game")
    anchor_index = arr.players.index(anchor) if anchor is not None else None
    prior_var = None if prior_sd_elo is None else (prior_sd_elo / ELO_PER_LOGIT) ** 2
    if prior_var is None and (culprits := _unrateable(arr, arr.w)) is not None:
        raise RatingError(
            "no finite maximum-likelihood rating: "
            f"{', '.join(culprits)} never conceded any score to the other players "
            "(the estimate is infinite); set a prior (prior_sd_elo) to rate them"
        )
    theta = _fit_logits(arr, arr.w, prior_var)
    point = _to_elo(theta, anchor_index, anchor_rating)

    rng = np.random.default_rng(seed)
    samples = []
    failures = 0
    for _ in range(n_resamples):
        counts = np.bincount(
            rng.integers(0, arr.n_groups, size=arr.n_groups), minlength=arr.n_groups
        )
        w = arr.w * counts[arr.group]
        if prior_var is None and _unrateable(arr, w) is not None:
            failures += 1
            samples.append(_infinite_resample(arr, w, anchor_index, anchor_rating))
            continue
        samples.append(_to_elo(_fit_logits(arr, w, prior_var, theta), anchor_index, anchor_rating))
    alpha = (1.0 - level) / 2.0
    if samples:
        # inverted-CDF percentiles: they stay defined when some resamples are infinite
        lo, hi = np.nanquantile(
            np.asarray(samples), [alpha, 1.0 - alpha], axis=0, method="inverted_cdf"
        )
    else:
        lo, hi = point, point

    n_players = len(arr.players)
    played = np.bincount(arr.a, weights=arr.w, minlength=n_players) + np.bincount(
        arr.b, weights=arr.w, minlength=n_players
    )
    scored = np.bincount(arr.a, weights=arr.w * arr.s, minlength=n_players) + np.bincount(
        arr.b, weights=arr.w * (1.0 - arr.s), minlength=n_players
    )
    rows = [
        Rating(
            player=p,
            rating=float(point[i]),
            lower=float(lo[i]),
            upper=float(hi[i]),
            games=float(played[i]),
            score=float(scored[i] / played[i]),
        )
        for i, p in enumerate(arr.players)
    ]
    rows.sort(key=lambda r: (-r.rating, r.player))
    return Ratings(
        ratings=rows,
        anchor=anchor,
        anchor_rating=anchor_rating,
        prior_sd_elo=prior_sd_elo,
        n_games=len(games),
        n_resamples=n_resamples,
        level=level,
        seed=seed,
        bootstrap_failures=failures,
    )
