"""Tournaments: matchups from variants, games from verdicts, ratings, and resuming."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from oversight.cli import app
from oversight.config import ConfigError, validate_as
from oversight.ratings import fit_ratings
from oversight.runner import Runner
from oversight.store import Candidate, Debate, Judgment, Question, Store, Turn
from oversight.tournament import TournamentConfig, games_of, load_tournament_config


def _data(model: Path, **tournament: Any) -> dict[str, Any]:
    return {
        "name": "tourney",
        "seed": 0,
        "concurrency": 8,
        "data": {"source": "arc", "split": "test", "limit": 2},
        "models": {"m": {"model": str(model), "max_batch_size": 8}},
        "tournament": {
            "rounds": 1,
            "word_limit": 10,
            "generation": {"max_new_tokens": 5, "temperature": 1.0},
            "bootstrap": 100,
            "debaters": {"bo1": {"model": "m"}, "bo2": {"model": "m", "best_of": 2}},
            **tournament,
        },
        "judges": [{"name": "plain", "model": "m", "prompt": "judge"}],
    }


def test_every_seating_of_every_pair_is_a_matchup(tiny_chat_model) -> None:
    cfg = validate_as(TournamentConfig, _data(tiny_chat_model), "t.toml")
    assert list(cfg.protocols) == ["bo1-vs-bo2", "bo2-vs-bo1", "bo1-vs-bo1", "bo2-vs-bo2"]
    p = cfg.protocols["bo1-vs-bo2"]
    assert (p.best_of, p.opponent.best_of, p.kind) == (1, 2, "matchup")
    # Rating settings are analysis: changing them keeps the experiment (its config hash).
    other = validate_as(TournamentConfig, _data(tiny_chat_model, bootstrap=500), "t.toml")
    assert other.config_hash() == cfg.config_hash()
    plain = validate_as(TournamentConfig, _data(tiny_chat_model, self_play=False), "t.toml")
    assert list(plain.protocols) == ["bo1-vs-bo2", "bo2-vs-bo1"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (
            {"debaters": {"a": {"model": "nobody"}, "b": {"model": "m"}}},
            "tournament.debaters.a.model",
        ),
        ({"debaters": {"Bad Name": {"model": "m"}, "b": {"model": "m"}}}, "debaters.Bad Name"),
        ({"debaters": {"a": {"model": "m"}}}, "debaters"),
    ],
)
def test_a_bad_tournament_names_the_field(tiny_chat_model, change, field) -> None:
    with pytest.raises(ConfigError, match=field.replace(".", r"\.")):
        validate_as(TournamentConfig, _data(tiny_chat_model, **change), "t.toml")


def test_a_tournament_cannot_also_define_protocols(tiny_chat_model) -> None:
    data = _data(tiny_chat_model)
    data["protocols"] = {"direct": {"kind": "direct"}}
    with pytest.raises(ConfigError, match="matchups"):
        validate_as(TournamentConfig, data, "t.toml")


def test_games_ratings_and_accuracy_come_from_the_stored_verdicts(
    tiny_chat_model, tmp_path
) -> None:
    store = Store(f"sqlite:///{tmp_path / 't.db'}")
    cfg = validate_as(TournamentConfig, _data(tiny_chat_model), "t.toml")
    summary = asyncio.run(Runner(cfg, store).run())
    assert (summary.planned, summary.completed) == (4 * 2 * 2, 16)
    # bo2 keeps the better of two candidates: stored for its seat only.
    for c in store.all(Candidate):
        d = store.debate(c.debate_id)
        seat_variant = d.protocol.split("-vs-")[0 if c.speaker == "debater_1" else 1]
        assert seat_variant == "bo2"
    assert store.count(Candidate) == 2 * (8 + 8)  # 2 seats in bo2-vs-bo2, 1 in the mixed ones
    result = games_of(store, cfg)
    # Independently: one game per mixed debate, a win when the judge favours the first seat.
    judged = {j.debate_id: j.probs for j in store.all(Judgment) if j.after_round == -1}
    expected = []
    for d in store.all(Debate):
        a, b = d.protocol.split("-vs-")
        if a != b:
            p = judged[d.id][d.assignment["debater_1"]]
            expected.append((a, b, 1.0 if p > 0.5 else 0.0 if p < 0.5 else 0.5))
    assert sorted((g.player_a, g.player_b, g.score_a) for g in result.games) == sorted(expected)
    assert result.ratings is not None
    refit = fit_ratings(result.games, n_resamples=100, seed=0)
    assert [r.rating for r in result.ratings.ratings] == [r.rating for r in refit.ratings]
    rows = {m.matchup: m for m in result.matchups}
    assert set(rows) == set(cfg.protocols)
    key = {q.id: q.correct_index for q in store.all(Question)}
    for name, row in rows.items():
        ds = [d for d in store.all(Debate) if d.protocol == name]
        right = [judged[d.id][key[d.question_id]] > 0.5 for d in ds]
        assert row.debates == 4 and row.accuracy == pytest.approx(np.mean(right))
    by = result.ratings.by_player()
    assert rows["bo1-vs-bo1"].rating == pytest.approx(by["bo1"].rating)
    assert rows["bo1-vs-bo2"].rating == pytest.approx((by["bo1"].rating + by["bo2"].rating) / 2)
    # Rerunning plays nothing and stores nothing.
    before = (store.count(Turn), store.count(Candidate), store.count(Judgment))
    again = asyncio.run(Runner(cfg, store).run())
    assert again.ran == 0
    assert (store.count(Turn), store.count(Candidate), store.count(Judgment)) == before


def test_the_tournament_command_prints_ratings_and_writes_the_plot(
    tiny_chat_model, tmp_path
) -> None:
    path = tmp_path / "t.toml"
    path.write_text(
        f"""name = "tourney"
concurrency = 8
[data]
source = "arc"
split = "test"
limit = 2
[models.m]
model = "{tiny_chat_model}"
[tournament]
rounds = 1
word_limit = 10
self_play = false
bootstrap = 100
generation = {{ max_new_tokens = 5, temperature = 1.0 }}
[tournament.debaters.bo1]
model = "m"
[tournament.debaters.bo2]
model = "m"
best_of = 2
[[judges]]
name = "plain"
model = "m"
prompt = "judge"
"""
    )
    db = f"sqlite:///{tmp_path / 't.db'}"
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["tournament", str(path), "--db", db, "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "ratings (Elo)" in result.output and "bo1-vs-bo2" in result.output
    assert (out / "accuracy_vs_rating.png").stat().st_size > 1000
    assert (out / "tournament.json").exists()
    again = CliRunner().invoke(app, ["tournament", str(path), "--db", db, "--out", str(out)])
    assert again.exit_code == 0 and "0 debates run now" in again.output
    assert load_tournament_config(path).name == "tourney"
