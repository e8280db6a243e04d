"""Every config shipped in experiments/ validates under the command it is written for."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from oversight.config import load_config
from oversight.pipeline_config import load_pipeline_config
from oversight.tournament import load_tournament_config

EXPERIMENTS = Path(__file__).resolve().parents[2] / "experiments"
CONFIGS = sorted(EXPERIMENTS.glob("*.toml"))


def test_there_are_configs() -> None:
    assert len(CONFIGS) >= 5


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_a_shipped_config_validates(path: Path) -> None:
    data = tomllib.loads(path.read_text())
    if "w2s" in data:
        cfg = load_pipeline_config(path)
    elif "tournament" in data:
        cfg = load_tournament_config(path)
    else:
        cfg = load_config(path)
    assert cfg.name and cfg.protocols
