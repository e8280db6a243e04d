"""The weak-to-strong pipeline config: an experiment config plus a ``[w2s]`` section.

The debate part (data, models, protocols, judges) is an ordinary ``ExperimentConfig`` and is
run by the ordinary runner under the experiment's name; only it defines the debates' identity,
so changing a training setting reuses every stored debate and retrains only what changed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from oversight.config import ExperimentConfig, read_toml, validate_as
from oversight.labels import Method
from oversight.train.config import ClassifierConfig, WeakEnsembleConfig


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SplitFractions(_Strict):
    """Shares of the questions in each split; a split is decided per group of questions (same
    passage or dataset group id, ``oversight.splits.split_group``) by a hash of its key."""

    weak: float = Field(default=0.3, gt=0, lt=1)
    """Split A: ground truth trains the weak supervisors."""
    label: float = Field(default=0.4, gt=0, lt=1)
    """Split B: the weak supervisors label it and the strong student trains on those labels."""
    test: float = Field(default=0.3, gt=0, lt=1)
    """Held out: every model is evaluated on it, and nothing is chosen by it."""
    validation: float = Field(default=0.2, ge=0, lt=1)
    """Share of split B held out from student training as a validation set (as in
    EleutherAI/w2s): weak-labelled for the students, the answer key for the ceiling. Any
    setting chosen by a score is chosen on it, never on test. Not part of the sum."""

    @model_validator(mode="after")
    def _sum_to_one(self) -> SplitFractions:
        total = self.weak + self.label + self.test
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"split fractions must sum to 1, got {total:g}")
        return self


class W2SConfig(_Strict):
    """Weak-to-strong training on debate-derived labels (Lang, Huang & Li 2025)."""

    output_dir: str = "runs"
    """Folder for the stages' outputs; each experiment gets ``output_dir/<name>``."""
    splits: SplitFractions = Field(default_factory=SplitFractions)
    """How the questions are divided between weak training, labelling and test."""
    seeds: list[int] = Field(default_factory=lambda: [0], min_length=1)
    """Seeds of the strong student (and ceiling) runs; PGR is averaged over them."""
    label_method: Method = "mean"
    """How the ensemble's verdicts are aggregated into a label."""
    min_confidence: float = Field(default=0.0, ge=0.0, le=1.0)
    """Drop labels whose confidence is below this before training the student."""
    direct_protocol: str = "direct"
    """Protocol without speakers (kind ``direct``) whose rows the weak judges without debate
    judge."""
    debate_protocol: str = "debate"
    """Protocol with speakers (kind ``debate``, ``consultancy``, ...) whose transcripts the
    debate-aided weak judges read, in training (split A) and when labelling (split B) and
    testing."""
    weak: WeakEnsembleConfig = Field(default_factory=WeakEnsembleConfig)
    """The weak ensemble; ``inputs.transcript`` is set by the pipeline for each variant."""
    strong: ClassifierConfig
    """The strong student; the ceiling run uses the same settings on ground truth."""
    bootstrap: int = Field(default=2000, ge=100)
    """Bootstrap resamples of the test questions for the 95% intervals."""
    controls: list[Annotated[float, Field(gt=0.0, lt=0.5)]] = Field(
        default_factory=lambda: [0.2, 0.35]
    )
    """Flip rates of the positive controls: split B's answer key with exactly that share of
    labels flipped (``oversight.controls``), each training the student like a label source;
    reported as controls, never as supervisors. Empty: no control."""
    unfit_tolerance: float = Field(default=0.001, ge=0.0)
    """A weak member whose final-epoch mean training loss is at least the entropy of its
    training labels (ln 2 here) minus this many nats learned nothing: it is left out of its
    ensemble's labels and reported (``oversight.train.fit``). Small on purpose: a member can
    end only a few thousandths of a nat below ln 2 (confident by little) and still rank the
    answers well; the MiniLM members of experiments/w2s_cpu_300.toml ended 0.004 nats below
    it and were 73% and 77% accurate on the validation questions (README). A member at its
    initialisation, or predicting 1/2 everywhere, stays within 0.001 of the prior."""

    @model_validator(mode="after")
    def _controls_valid(self) -> W2SConfig:
        if len(set(self.controls)) != len(self.controls):
            raise ValueError(f"controls: flip rates repeat ({self.controls})")
        return self


class PipelineConfig(ExperimentConfig):
    """An experiment whose debates feed weak-to-strong training."""

    w2s: W2SConfig
    """The weak-to-strong stages."""

    @model_validator(mode="after")
    def _protocols_exist(self) -> PipelineConfig:
        direct = self.protocols.get(self.w2s.direct_protocol)
        if direct is None or direct.speaks():
            raise ValueError(
                f"w2s.direct_protocol: {self.w2s.direct_protocol!r} must name a protocol in "
                f"which nobody speaks, such as kind 'direct' (defined: {sorted(self.protocols)})"
            )
        debate = self.protocols.get(self.w2s.debate_protocol)
        if debate is None or not debate.speaks():
            raise ValueError(
                f"w2s.debate_protocol: {self.w2s.debate_protocol!r} must name a protocol with "
                f"speakers, such as kind 'debate' or 'consultancy' "
                f"(defined: {sorted(self.protocols)})"
            )
        return self

    def debate_config(self) -> ExperimentConfig:
        """The experiment the runner executes: everything but the ``[w2s]`` section."""
        return ExperimentConfig.model_validate(self.model_dump(exclude={"w2s"}))

    def output_path(self) -> Path:
        return Path(self.w2s.output_dir) / self.name


def parse_pipeline_config(data: dict[str, Any], source: str = "<config>") -> PipelineConfig:
    return validate_as(PipelineConfig, data, source)


def load_pipeline_config(path: str | Path) -> PipelineConfig:
    """Read and validate a pipeline TOML file; errors name the file and the field."""
    return parse_pipeline_config(read_toml(path), str(path))
