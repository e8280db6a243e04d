"""The shipped weak-to-strong configs validate, and describe what they claim."""

from __future__ import annotations

from pathlib import Path

import pytest

from oversight.pipeline_config import load_pipeline_config

EXPERIMENTS = Path(__file__).resolve().parents[2] / "experiments"


@pytest.mark.parametrize("path", sorted(EXPERIMENTS.glob("w2s_*.toml")), ids=lambda p: p.stem)
def test_w2s_configs_validate(path: Path) -> None:
    cfg = load_pipeline_config(path)
    assert cfg.w2s.weak.inputs.context is False  # the weak overseer lacks the hidden material
    assert cfg.debate_config().name == cfg.name
    assert "w2s" not in cfg.debate_config().model_dump()


def test_cpu_config_is_the_offline_minilm_smollm2_setup() -> None:
    cfg = load_pipeline_config(EXPERIMENTS / "w2s_cpu.toml")
    assert cfg.w2s.weak.model == "all-minilm-l6-v2" and cfg.w2s.weak.members == 4
    assert cfg.w2s.strong.model == "smollm2-135m-instruct"
    assert cfg.data.source == "cosmosqa" and len(cfg.w2s.seeds) >= 2


def test_gpu_configs_cover_the_papers_four_tasks() -> None:
    sources = {
        load_pipeline_config(p).data.source for p in EXPERIMENTS.glob("w2s_gpu_lang2025*.toml")
    }
    assert sources == {"allenai/sciq", "google/boolq", "allenai/cosmos_qa", "Anthropic/hh-rlhf"}
    cfg = load_pipeline_config(EXPERIMENTS / "w2s_gpu_lang2025.toml")
    assert cfg.models["strong"].backend == "vllm"
    assert cfg.protocols["debate"].rounds == 3  # type: ignore[union-attr]
    assert cfg.w2s.weak.members == 4 and cfg.w2s.weak.inputs.transcript is False
