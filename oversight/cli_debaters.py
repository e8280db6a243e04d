"""The ``train-debaters`` command: DPO on the debaters from their judged debates.

Registered on the ``oversight`` app by ``cli.py``. The pairs come from
:mod:`oversight.train.debater_pairs`; their prompts are rebuilt with the debater's own prompt
code (``agents.debater.Advocate.messages``), which the command passes in because
``oversight.train`` may not import ``agents``. Heavy imports happen inside the command.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.table import Table

from agents.debater import Advocate
from oversight.backends.base import SamplingParams
from oversight.cli_console import DbOption, console, fail, open_store
from oversight.config import ConfigError, ExperimentConfig, load_config
from oversight.protocol_registry import ProtocolConfig, Role
from oversight.store import Question, StoreError, Turn


def debate_protocol(cfg: ExperimentConfig, name: str | None, source: str) -> str:
    """The protocol to take pairs from: ``name``, or the config's only swapped debate."""
    swapped = [
        n for n, p in cfg.protocols.items() if p.kind == "debate" and getattr(p, "swap", False)
    ]
    if name is None:
        if len(swapped) != 1:
            raise ConfigError(
                f"{source}: --protocol: name the debate protocol to train on "
                f"(swapped debate protocols in the config: {swapped or 'none'})"
            )
        return swapped[0]
    if name not in cfg.protocols:
        raise ConfigError(
            f"{source}: --protocol: no protocol {name!r} (protocols: {sorted(cfg.protocols)})"
        )
    if name not in swapped:
        raise ConfigError(
            f"{source}: protocols.{name}: debater pairs need a debate protocol with swap = true "
            "(each answer argued by each seat), not "
            f"kind {cfg.protocols[name].kind!r}"
        )
    return name


def prompt_renderer(protocol: ProtocolConfig, cfg: ExperimentConfig) -> Any:
    """``render_prompt`` for the pair builder: the debater prompt of ``protocol``, built as
    the run built it (role, word limit, quote budget, the model's context policy)."""
    fields = protocol.model_dump()
    advocate = Advocate(
        Role.DEBATER,
        int(fields["word_limit"]),
        SamplingParams(),  # sampling does not enter the prompt
        context_policy=cfg.models[fields["model"]].context_policy,
        quote_budget=fields.get("quote_budget"),
    )

    def render(
        question: Question,
        speaker: str,
        assignment: dict[str, int],
        turns: Sequence[Turn],
        round_: int,
        dropped: Sequence[int],
    ) -> list[dict[str, str]]:
        return advocate.messages(question, speaker, assignment, turns, round_, dropped)

    return render


def train_debaters(
    config: Annotated[Path, typer.Argument(help="Experiment TOML file the debates ran from.")],
    out: Annotated[Path, typer.Option("--out", help="Folder for the pairs and the adapter.")],
    experiment: Annotated[
        str | None,
        typer.Option(help="Experiment in the Store (default: the config's name)."),
    ] = None,
    protocol: Annotated[
        str | None,
        typer.Option(help="Debate protocol to take pairs from (default: the only swapped one)."),
    ] = None,
    judges: Annotated[
        list[str] | None, typer.Option("--judges", help="Only these judge ids (repeatable).")
    ] = None,
    min_confidence: Annotated[
        float,
        typer.Option(
            "--min-confidence",
            min=0.5,
            max=1.0,
            help="Drop pairs whose preference confidence (1 + margin) / 2 is below this.",
        ),
    ] = 0.5,
    max_steps: Annotated[
        int, typer.Option("--max-steps", help="Optimizer steps (-1: run the epochs).")
    ] = -1,
    epochs: Annotated[float, typer.Option(help="Passes over the pairs.")] = 1.0,
    learning_rate: Annotated[float, typer.Option("--learning-rate", min=0.0)] = 5e-6,
    beta: Annotated[float, typer.Option(min=0.0, help="DPO temperature.")] = 0.1,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1)] = 4,
    max_length: Annotated[
        int, typer.Option("--max-length", min=8, help="Token budget of prompt + speech.")
    ] = 1024,
    lora_r: Annotated[
        int, typer.Option("--lora-r", min=0, help="Adapter rank (0: train all weights).")
    ] = 8,
    seed: Annotated[int | None, typer.Option(help="Training seed (default: config's).")] = None,
    db: DbOption = None,
) -> None:
    """Build preference pairs from an experiment's judged, swapped debates and DPO-train the
    debater model on them (an adapter by default).

    A speech's reward is the judges' final probability for the answer its speaker argued; the
    two speeches for one answer in one round of a question's two debates form a pair, the
    better-rewarded one chosen. Writes OUT/pairs (a datasets folder, every pair), OUT/adapter
    and OUT/summary.json. Pairs whose prompt fills --max-length are not trained on (TRL would
    drop them unseen); the table counts them.
    """
    from oversight.train.config import DPOStudentConfig, LoraSettings
    from oversight.train.debater_pairs import DebaterPairsError, debater_pairs, pairs_that_fit
    from oversight.train.dpo import train_dpo
    from oversight.train.trl_common import load_tokenizer

    try:
        cfg = load_config(config)
        name = debate_protocol(cfg, protocol, str(config))
        proto = cfg.protocols[name]
        cfg_model = cfg.models[proto.model_dump()["model"]]
        dpo = DPOStudentConfig(
            model=cfg_model.model,
            max_steps=max_steps,
            epochs=epochs,
            learning_rate=learning_rate,
            beta=beta,
            batch_size=batch_size,
            max_length=max_length,
            min_confidence=min_confidence,
            lora=LoraSettings(r=lora_r, alpha=2 * lora_r) if lora_r else None,
        )
    except ValidationError as err:
        first = err.errors()[0]
        option = "--" + str(first["loc"][0]).replace("_", "-")
        raise fail(f"command line: {option}: {first['msg']}") from None
    except ConfigError as err:
        raise fail(str(err)) from None
    store = open_store(db, cfg.store, create=False)
    exp_name = experiment or cfg.name
    sequential = proto.model_dump().get("turns") == "sequential"
    order = [s.slot for s in proto.seats()] if sequential else None
    try:
        pairs = debater_pairs(
            store,
            exp_name,
            protocol=name,
            render_prompt=prompt_renderer(proto, cfg),
            judges=judges,
            speaker_order=order,
        )
    except (StoreError, DebaterPairsError) as err:
        raise fail(str(err)) from None
    confident = pairs.filter(lambda r: r["confidence"] >= min_confidence)
    if len(confident) == 0:
        raise fail(
            f"experiment {exp_name!r}, protocol {name!r}: no preference pairs "
            f"({len(pairs)} before --min-confidence {min_confidence}); the two debates of "
            "each question must give an answer different probabilities"
        )
    kept, lengths = pairs_that_fit(confident, load_tokenizer(dpo.model), max_length)
    if len(kept) == 0:
        raise fail(
            f"--max-length {max_length}: every prompt is at least that long (shortest "
            f"{min(lengths)} tokens), so no speech would be trained on; raise --max-length"
        )
    out.mkdir(parents=True, exist_ok=True)
    pairs.save_to_disk(str(out / "pairs"))
    metrics = train_dpo(dpo, kept, out / "adapter", seed=cfg.seed if seed is None else seed)
    summary = {
        "experiment": exp_name,
        "protocol": name,
        "model": cfg_model.model,
        "pairs": len(pairs),
        "pairs_confident": len(confident),
        "pairs_too_long": len(confident) - len(kept),
        "pairs_trained": len(kept),
        "longest_prompt_tokens": max(lengths),
        "same_prompt_pairs": int(sum(kept["same_prompt"])),
        "mean_margin": float(sum(kept["margin"]) / len(kept)),
        **metrics,
        "adapter": str(out / "adapter"),
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    table = Table(title=f"train-debaters {exp_name} / {name}")
    table.add_column("quantity")
    table.add_column("value", justify="right")
    table.add_row("pairs", str(summary["pairs"]))
    table.add_row("pairs at --min-confidence", str(summary["pairs_confident"]))
    table.add_row("pairs with a prompt too long", str(summary["pairs_too_long"]))
    table.add_row("pairs trained", str(summary["pairs_trained"]))
    table.add_row("pairs with one prompt for both speeches", str(summary["same_prompt_pairs"]))
    table.add_row("mean reward margin", f"{summary['mean_margin']:.3f}")
    table.add_row("optimizer steps", str(summary["steps"]))
    table.add_row("train loss", f"{summary['train_loss']:.4f}")
    table.add_row(
        "loss / label smoothing", f"{metrics['loss_type']} / {metrics['label_smoothing']:.3f}"
    )
    console.print(table)
    console.print(f"adapter and pairs in {out}")
