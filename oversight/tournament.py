"""Tournaments: debater variants play each other; ratings against judge accuracy.

A tournament config is an experiment config whose ``[tournament]`` table names debater
variants (model, best-of-N, prompt) instead of protocols. Every ordered pair of different
variants becomes a ``matchup`` protocol (``A-vs-B``: A in the first seat), so each variant sits
in both seats, and with ``swap`` each argues each answer; with ``self_play`` each variant also
debates itself (``A-vs-A``). The experiment runs through the Runner like any other, so a rerun
adds nothing and a crash loses nothing.

Ratings (:data:`GAME_RULE`): each judged debate between different variants is one game whose
score for the first seat's variant is the deciding judges' mean probability of its answer (a
soft result); games of one question are resampled together by the bootstrap. Bradley-Terry
strengths are fitted by maximum likelihood on the Elo scale (:mod:`oversight.ratings`). Judge
accuracy is reported per matchup; Khan et al. 2024 plot it against debater strength, which
:func:`accuracy_vs_rating` draws: each self-play matchup at its variant's rating, each mixed
one at the mean of its two variants' ratings.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from oversight.config import ExperimentConfig, GenerationConfig, read_toml, validate_as
from oversight.metrics import TieRule
from oversight.ratings import Game, Ratings, fit_ratings
from oversight.report.context import load_context
from oversight.report.summary import JudgeRow, group_rows
from oversight.store import Store

MATCHUP_SEP = "-vs-"
_NAME = re.compile(r"^[a-z0-9_]+$")

GAME_RULE = (
    "one game per judged debate between different variants; the first seat scores 1 when "
    "the deciding judges' mean probability of its answer is above 0.5, 0 below, 0.5 at "
    "exactly 0.5 (score = 'soft': that probability); games of one question are "
    "bootstrapped together"
)


class Variant(BaseModel):
    """A debater variant: its model alias (an adapter is an alias of its own), candidates per
    speech and prompt template."""

    model_config = ConfigDict(extra="forbid")

    model: str
    best_of: int = Field(default=1, ge=1, le=32)
    prompt: str | None = None
    critic: str | None = None
    """Alias of a model that critiques each draft before the speaker revises it."""


class TournamentSettings(BaseModel):
    """What every game shares, and the variants that play."""

    model_config = ConfigDict(extra="forbid")

    debaters: dict[str, Variant] = Field(min_length=2)
    rounds: int = Field(default=1, ge=1)
    word_limit: int = Field(default=60, ge=1)
    turns: str = "simultaneous"
    generation: GenerationConfig = Field(default_factory=GenerationConfig)
    swap: bool = True
    """Each variant argues each answer (two debates per seating and question)."""
    self_play: bool = True
    """Each variant also debates itself: the judge-accuracy point at that variant's rating."""
    preference_judge: str | None = None
    """The judge that rates best-of-N candidates; None: the experiment's first judge."""
    judged_by: str | None = None
    """Judge group deciding games and accuracy (see ``oversight report``); None: the
    experiment's own judges."""
    bootstrap: int = Field(default=1000, ge=0)
    """Bootstrap resamples of the ratings' 95% intervals."""
    score: Literal["win", "soft"] = "win"
    """A game's result for the first seat: ``win`` 1 when the deciding judges' mean
    probability of its answer is above 0.5, 0 below, 0.5 at exactly 0.5 (a draw); ``soft``
    that probability itself."""

    @model_validator(mode="after")
    def _names(self) -> TournamentSettings:
        for name in self.debaters:
            if not _NAME.match(name):
                raise ValueError(
                    f"debaters.{name}: a variant's name is lower-case letters, digits and _"
                )
        return self

    def matchups(self) -> list[tuple[str, str]]:
        """Every seating: ordered pairs of different variants, then self-play."""
        names = list(self.debaters)
        pairs = [(a, b) for a in names for b in names if a != b]
        return pairs + ([(a, a) for a in names] if self.self_play else [])

    def protocols(self) -> dict[str, dict[str, Any]]:
        out = {}
        for a, b in self.matchups():
            va, vb = self.debaters[a], self.debaters[b]
            out[f"{a}{MATCHUP_SEP}{b}"] = {
                "kind": "matchup",
                "model": va.model,
                "best_of": va.best_of,
                "prompt": va.prompt,
                "critic": va.critic,
                "opponent": vb.model_dump(),
                "rounds": self.rounds,
                "word_limit": self.word_limit,
                "turns": self.turns,
                "generation": self.generation.model_dump(),
                "swap": self.swap,
                "preference_judge": self.preference_judge,
            }
        return out


class TournamentConfig(ExperimentConfig):
    """An experiment whose protocols are a tournament's matchups."""

    tournament: TournamentSettings

    @model_validator(mode="before")
    @classmethod
    def _matchups(cls, data: Any) -> Any:
        if not isinstance(data, dict) or "tournament" not in data:
            return data
        if data.get("protocols"):
            raise ValueError(
                "protocols: a tournament's protocols are its matchups, made from "
                "tournament.debaters; remove [protocols]"
            )
        settings = TournamentSettings.model_validate(data["tournament"])
        models = data.get("models") or {}
        for name, v in settings.debaters.items():
            for field, alias in (("model", v.model), ("critic", v.critic)):
                if alias is not None and alias not in models:
                    raise ValueError(
                        f"tournament.debaters.{name}.{field}: unknown model alias {alias!r} "
                        f"(defined: {sorted(models)})"
                    )
        return {**data, "protocols": settings.protocols()}

    def identity(self) -> dict[str, Any]:
        """What is computed: the matchups (protocols) carry it; how games are rated and by
        whom is analysis, which may change without replaying a game."""
        data = super().identity()
        data.pop("tournament", None)
        return data


def load_tournament_config(path: str | Path) -> TournamentConfig:
    """Read and validate a tournament TOML file (errors name the file and the field)."""
    return validate_as(TournamentConfig, read_toml(path), str(path))


def seating(protocol: str) -> tuple[str, str]:
    """(first seat's variant, second seat's variant) of a matchup protocol's name."""
    a, _, b = protocol.partition(MATCHUP_SEP)
    return a, b


@dataclass(frozen=True)
class MatchupRow:
    """Judge accuracy on one matchup, beside its debaters' ratings."""

    matchup: str
    first: str
    second: str
    debates: int
    questions: int
    accuracy: float
    ci_low: float
    ci_high: float
    ties: int
    rating: float
    """Mean rating of the two variants (the variant's own in self-play)."""


@dataclass(frozen=True)
class TournamentResult:
    experiment: str
    judged_by: str | None
    games: list[Game]
    ratings: Ratings | None
    matchups: list[MatchupRow]
    rules: dict[str, str]

    def as_json(self) -> dict[str, Any]:
        return {
            "experiment": self.experiment,
            "judged_by": self.judged_by,
            "games": len(self.games),
            "ratings": self.ratings.model_dump() if self.ratings else None,
            "matchups": [asdict(m) for m in self.matchups],
            "rules": self.rules,
        }


def games_of(store: Store, cfg: TournamentConfig, ties: TieRule = "incorrect") -> TournamentResult:
    """The games, ratings and per-matchup judge accuracy of a stored tournament."""
    ctx = load_context(store, cfg.name, wins_by=cfg.tournament.judged_by, ties=ties)
    deciding = ctx.deciding
    verdicts: dict[str, list[list[float]]] = defaultdict(list)
    if deciding is not None:
        for j in ctx.judgments:
            if j.after_round == -1 and j.judge_id in deciding.judge_ids:
                verdicts[j.debate_id].append(list(j.probs))
    debates = [d for d in ctx.debates if d.protocol in cfg.protocols]
    games = []
    for d in debates:
        a, b = seating(d.protocol)
        if a == b or not verdicts.get(d.id) or "debater_1" not in d.assignment:
            continue
        p = float(np.clip(np.mean(verdicts[d.id], axis=0)[d.assignment["debater_1"]], 0, 1))
        score = (
            p if cfg.tournament.score == "soft" else (1.0 if p > 0.5 else 0.0 if p < 0.5 else 0.5)
        )
        games.append(Game(player_a=a, player_b=b, score_a=score, group=d.question_id))
    ratings = (
        fit_ratings(games, n_resamples=cfg.tournament.bootstrap, seed=cfg.seed) if games else None
    )
    by_player = ratings.by_player() if ratings else {}
    rows: list[JudgeRow] = (
        group_rows(debates, ctx.questions, ctx.judgments, deciding, ties=ties) if deciding else []
    )
    matchups = []
    for r in rows:
        a, b = seating(r.protocol)
        known = [by_player[p].rating for p in {a, b} if p in by_player]
        matchups.append(
            MatchupRow(
                matchup=r.protocol,
                first=a,
                second=b,
                debates=r.debates,
                questions=r.questions,
                accuracy=r.accuracy,
                ci_low=r.ci_low,
                ci_high=r.ci_high,
                ties=r.ties,
                rating=float(np.mean(known)) if len(known) == len({a, b}) else float("nan"),
            )
        )
    rules = {
        "games": GAME_RULE,
        "ratings": "Bradley-Terry by maximum likelihood, Elo scale (400/ln 10 per logit), "
        "mean 1000, weak Gaussian prior; 95% percentile bootstrap over questions",
        "accuracy": "deciding judges' mean verdict per debate, correct when P(correct) > 0.5; "
        "95% bootstrap over questions",
    }
    return TournamentResult(
        cfg.name, deciding.label if deciding else None, games, ratings, matchups, rules
    )
