"""What a weak-to-strong pipeline config will do, computed without loading a model.

``oversight pipeline CONFIG --dry-run`` prints this plan, so a GPU user knows before renting
the machine how many questions land in each split, how many debates, judgments and training
runs the config asks for, and roughly how many tokens the debates and judges will cost.
Nothing is written to the Store and no model is loaded: models are resolved through the
registry without converting or downloading anything.

The token estimate (:data:`TOKEN_RULE`) is an upper bound on completions and an estimate of
prompts: every speech generates its full ``max_new_tokens``; a text costs ``ceil(chars / 4)``
tokens (the usual rule of thumb for English under BPE tokenizers); a speech's prompt is the
question, its choices and the hidden passage (debaters read it) plus every speech it can see
(earlier rounds; with sequential turns, also the earlier speeches of its own round); a
prompted judge scores both presentation orders (two prefills) of the question and choices,
the passage only if it ``sees_context``, and the full transcript, and generates nothing.
Prompt templates are not counted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from rich.table import Table

from oversight.controls import control_title
from oversight.models import REGISTRY, hub_offline, in_hub_cache, looks_like_path
from oversight.pipeline_config import PipelineConfig
from oversight.run_plan import TOKEN_RULE, RunPlan, plan_run
from oversight.runner import experiment_questions, plan_debates
from oversight.splits import split_questions
from oversight.store import Experiment


def describe_model(name: str) -> str:
    """Where a model name resolves to, found without loading, converting or downloading it
    (the order of ``oversight.models.resolve_model``). A Hub id is not an error while the Hub
    is offline: the plan is made on one machine for a run on another."""
    if Path(name).expanduser().exists():
        return f"local path {name}"
    entry = REGISTRY.get(name)
    if entry is not None:
        copy = entry.offline_copy()
        if copy is not None:
            how = ", converted from GGUF on first use" if entry.is_gguf else ""
            return f"registry alias, offline copy {copy}{how}"
        name = entry.hub_id
    elif looks_like_path(name):
        raise ValueError(f"model path {name!r} does not exist")
    if in_hub_cache(name):
        return f"Hub {name} (in the local Hub cache)"
    where = (
        "the Hub is offline here: download it on the run's machine"
        if hub_offline()
        else ("downloaded on first use")
    )
    return f"Hub {name} ({where})"


@dataclass
class PipelinePlan(RunPlan):
    """The counts a dry run prints: the debate stage's plan (:class:`RunPlan`, its token
    rule) and the pipeline's splits, models, weak members' verdicts and training runs."""

    splits: dict[str, int] = field(default_factory=dict)
    models: dict[str, str] = field(default_factory=dict)
    trained_judgments: int = 0
    """Weak members' verdicts on split B and test rows."""
    training_runs: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def plan_pipeline(cfg: PipelineConfig) -> PipelinePlan:
    """The plan of ``cfg``: loads the questions (from files or the Hub's datasets), never a
    model, and writes nothing."""
    models = {alias: describe_model(m.model) for alias, m in cfg.models.items()}
    models["w2s.weak"] = describe_model(cfg.w2s.weak.model)
    models["w2s.strong"] = describe_model(cfg.w2s.strong.model)
    questions = experiment_questions(cfg)
    fractions = cfg.w2s.splits
    splits = split_questions(questions, fractions.model_dump(), cfg.seed, fractions.validation)
    debate_cfg = cfg.debate_config()
    run = plan_run(debate_cfg, questions)
    unsaved = Experiment(
        id=0, name=cfg.name, config_hash=debate_cfg.config_hash(), code_version="dry-run"
    )
    planned = plan_debates(debate_cfg, unsaved, questions)
    judged = set(splits.labelled) | set(splits.test)
    members = cfg.w2s.weak.members
    variants = (cfg.w2s.direct_protocol, cfg.w2s.debate_protocol)
    targets = sum(1 for d in planned if d.protocol in variants and d.question_id in judged)
    seeds = len(cfg.w2s.seeds)
    sources = 3 + len(cfg.w2s.controls)
    runs = {
        "weak members (2 variants)": 2 * members,
        f"students ({sources} label sources x {seeds} seeds)": sources * seeds,
        f"ceiling ({seeds} seeds)": seeds,
    }
    notes = [
        f"label sources: single weak model, weak ensemble, weak ensemble + debate, "
        f"{', '.join(control_title(r) for r in cfg.w2s.controls) or 'no control'}",
        "a weak member that does not fit is left out of its ensemble; a source without a fit "
        "member trains no student (fewer runs than planned)",
    ]
    return PipelinePlan(
        experiment=cfg.name,
        questions=len(questions),
        splits=splits.sizes(),
        models=models,
        protocols=run.protocols,
        judgments=run.judgments,
        judge_prompt_tokens=run.judge_prompt_tokens,
        trained_judgments=members * targets,
        training_runs=runs,
        notes=notes,
    )


def plan_table(plan: PipelinePlan) -> Table:
    """The plan as the dry run prints it."""
    table = Table(title=f"{plan.experiment}: plan (dry run, nothing loaded or stored)")
    table.add_column("", no_wrap=True)
    table.add_column("value", overflow="fold")
    s = plan.splits
    table.add_row("questions", str(plan.questions))
    table.add_row(
        "splits",
        f"A {s['weak']} / B {s['label'] + s['validation']} ({s['label']} trained on, "
        f"{s['validation']} validation) / test {s['test']}",
    )
    for alias, where in plan.models.items():
        table.add_row(f"model {alias}", where)
    for pname, p in plan.protocols.items():
        table.add_row(
            f"protocol {pname}",
            f"{p.debates} rows, {p.speeches} speeches, ~{p.prompt_tokens:,} prompt + "
            f"<= {p.completion_tokens:,} completion tokens",
        )
    table.add_row("debate rows", str(plan.debates))
    table.add_row("prompted judgments", f"{plan.judgments} (~{plan.judge_prompt_tokens:,} tokens)")
    table.add_row("weak-member judgments", str(plan.trained_judgments))
    for what, n in plan.training_runs.items():
        table.add_row(f"training: {what}", str(n))
    table.add_row(
        "tokens, all LLM calls",
        f"~{plan.prompt_tokens:,} prompt + <= {plan.completion_tokens:,} completion",
    )
    table.caption = "; ".join([*plan.notes, TOKEN_RULE])
    return table
