"""What a replay needs before any model runs: its judges file, and which debates it judges.

A replay re-judges an experiment's stored debates with a new judge ensemble, given in a TOML
file with the same ``[models.ALIAS]`` and ``[[judges]]`` tables as an experiment config. It
judges every complete debate (debates that are still pending or failed have no transcript to
judge yet), including debates imported from elsewhere. The graph work itself is in
:mod:`graphs.replay`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from oversight.config import JudgeConfig, ModelConfig, read_toml, validate_as
from oversight.store import Debate, JudgeEnsemble, JudgeKind, Store, StoreError


class ReplayConfig(BaseModel):
    """A judges file: the models and the judge ensemble to replay."""

    model_config = ConfigDict(extra="forbid")

    models: dict[str, ModelConfig]
    """Models by alias."""
    judges: list[JudgeConfig] = Field(min_length=1)
    """The judge ensemble; every replayed debate is judged by every member."""
    concurrency: int = Field(default=8, ge=1)
    """Debates judged at once (``--concurrency`` overrides it)."""

    @model_validator(mode="after")
    def _aliases_exist(self) -> ReplayConfig:
        known = set(self.models)
        for i, judge in enumerate(self.judges):
            if judge.model not in known:
                raise ValueError(
                    f"judges.{i}.model: unknown model alias {judge.model!r} "
                    f"(defined: {sorted(known)})"
                )
        names = [j.name for j in self.judges]
        if len(set(names)) != len(names):
            raise ValueError(f"judges: names must be unique, got {names}")
        return self


def parse_replay_config(data: dict[str, Any], source: str = "<judges>") -> ReplayConfig:
    return validate_as(ReplayConfig, data, source)


def load_replay_config(path: str | Path) -> ReplayConfig:
    """Read and validate a judges TOML file; errors name the file and the field."""
    return parse_replay_config(read_toml(path), str(path))


def replay_debates(store: Store, experiment: str) -> list[Debate]:
    """The debates a replay judges: the experiment's complete ones, oldest first."""
    exp = store.require_experiment(experiment)
    assert exp.id is not None
    return store.debates(exp.id, status="complete")


def record_ensemble(
    store: Store,
    experiment: str,
    name: str,
    members: list[dict[str, Any]],
    kind: JudgeKind = JudgeKind.PROMPTED,
) -> JudgeEnsemble:
    """Record (once) that the judges ``members`` were replayed together as ``name``.

    Each member is a dict with at least ``judge_id``. Reusing a name for another set of judges
    is an error, so a report's "ensemble NAME" row always means one set of judges.
    """
    exp = store.require_experiment(experiment)
    assert exp.id is not None
    ids = [m["judge_id"] for m in members]
    store.insert_ignore(
        [
            JudgeEnsemble(
                experiment_id=exp.id, name=name, judge_ids=ids, judges=members, kind=kind.value
            )
        ]
    )
    stored = store.first(
        JudgeEnsemble, JudgeEnsemble.experiment_id == exp.id, JudgeEnsemble.name == name
    )
    assert stored is not None
    if sorted(stored.judge_ids) != sorted(ids):
        raise StoreError(
            f"ensemble {name!r} of experiment {experiment!r} was recorded with other judges "
            f"({stored.judge_ids}); replay this ensemble under another name with --as"
        )
    return stored
