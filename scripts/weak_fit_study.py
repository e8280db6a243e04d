"""Why a weak judge fits or not: train members on nested parts of split A and measure them.

For each weak variant (``plain``: question + answer; ``debate``: also the debate transcript)
and each size ``n`` (the first ``n`` questions of split A, by question id), one member is
trained exactly as the pipeline trains it (``train_weak_member`` with the config's
``[w2s.weak]``, seed ``cfg.seed * 1000``); the study reports

- its final-epoch training loss against the prior's (``oversight.train.fit``: the pipeline's
  fit rule), and its accuracy on split B's validation part (the answer key of validation
  questions; test is never read), a prediction of exactly 0.5 counting as wrong;
- what its inputs look like: mean tokens after truncation, and the share of a question's two
  candidate inputs that differs (1 - difflib's ratio on their token ids), i.e. how much of
  what the classifier reads tells the two candidates apart.

It reads a store the pipeline has filled (debates done) and writes only under ``--out``:
``weak_fit.json`` and ``weak_fit.png`` (loss per optimizer step); ``plot OUT.png IN...``
draws one figure from several studies and pipeline members' ``training.json``. Usage::

    python scripts/weak_fit_study.py experiments/w2s_cpu_300.toml --db sqlite:////tmp/w2s.db \\
        --sizes 31,107,214 --out runs/weak-fit
"""

from __future__ import annotations

import argparse
import difflib
import itertools
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from oversight.pipeline import Pipeline
from oversight.pipeline_config import load_pipeline_config
from oversight.runner import Runner
from oversight.splits import split_questions
from oversight.store import Store
from oversight.train.fit import check_fit
from oversight.train.inputs import choice_probs, prediction_texts, question_row
from oversight.train.transcripts import debate_views
from oversight.train.weak_judges import train_weak_member

SMOOTH = 20
"""Optimizer steps per point of the plotted curves (one step is a batch of 8: noisy)."""


def _pair_difference(tokenizer: Any, texts: list[str], max_length: int) -> tuple[float, float]:
    """(mean tokens of the two inputs, share of tokens that differ between them)."""
    ids = [tokenizer(t, truncation=True, max_length=max_length)["input_ids"] for t in texts]
    ratio = difflib.SequenceMatcher(a=ids[0], b=ids[1], autojunk=False).ratio()
    return float(np.mean([len(i) for i in ids])), 1.0 - ratio


def _curves(paths: list[str]) -> list[dict[str, Any]]:
    """Results of earlier studies (``weak_fit.json``) and pipeline members' ``training.json``
    (a member of ``weak-plain`` or ``weak-debate``, read as that variant at its own size)."""
    out: list[dict[str, Any]] = []
    for p in paths:
        data = json.loads(Path(p).read_text())
        if isinstance(data, list):
            out += data
            continue
        m, config = data["metrics"], data["config"]
        variant = "debate" if "weak-debate" in p else "plain"
        out.append(
            {
                "variant": f"{variant} (pipeline, seed {data['seed']})",
                "learning_rate": config["learning_rate"],
                "questions": m["examples"] // 2,
                "step_losses": m["step_losses"],
            }
        )
    return out


def main() -> None:
    if sys.argv[1:2] == ["plot"]:  # plot OUT.png IN.json...: one figure from several runs
        _plot(_curves(sys.argv[3:]), Path(sys.argv[2]))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config")
    parser.add_argument("--db", required=True)
    parser.add_argument("--sizes", default="31,107,214")
    parser.add_argument("--out", default="runs/weak-fit")
    parser.add_argument(
        "--variants", default="plain,debate", help="plain, debate, supporter, passage"
    )
    parser.add_argument("--learning-rates", default="", help="default: the config's")
    parser.add_argument("--pooling", default="model", choices=["model", "mean"])
    args = parser.parse_args()

    cfg = load_pipeline_config(args.config)
    store = Store(args.db)
    prepared = Runner(cfg.debate_config(), store).prepare()
    exp, question_list = prepared.experiment, prepared.questions
    assert exp.id is not None
    questions = {q.id: q for q in question_list}
    fractions = cfg.w2s.splits
    splits = split_questions(question_list, fractions.model_dump(), cfg.seed, fractions.validation)
    pipeline = Pipeline(cfg, store)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    sizes = [int(s) for s in args.sizes.split(",")]
    results: list[dict[str, Any]] = []
    rates: list[float | None] = [float(x) for x in args.learning_rates.split(",") if x]
    rates = rates or [None]
    for key, lr in itertools.product(args.variants.split(","), rates):
        variant = pipeline.variants[{"passage": "plain", "supporter": "debate"}.get(key, key)]
        config = pipeline.weak_config(variant)
        if key == "passage":  # a reference: the passage the weak judges never read
            config = config.model_copy(
                update={"inputs": config.inputs.model_copy(update={"context": True})}
            )
        if key == "supporter":  # the debate read as the candidate's own case only
            config = config.model_copy(
                update={"inputs": config.inputs.model_copy(update={"speeches": "supporter"})}
            )
        if args.pooling != "model":
            config = config.model_copy(update={"pooling": args.pooling})
        if lr is not None:
            config = config.model_copy(update={"learning_rate": lr})
        views = (
            debate_views(store, exp.id, variant.protocol, splits.weak + splits.validation)
            if variant.transcript
            else None
        )
        pool = [q for q in splits.weak if views is None or q in views]
        val = [q for q in splits.validation if views is None or q in views]
        for n in sizes:
            if n > len(pool):
                continue
            seed = cfg.seed * 1000
            with tempfile.TemporaryDirectory() as tmp:
                member = train_weak_member(
                    config, [questions[q] for q in pool[:n]], Path(tmp), seed, views
                )
            correct, lengths, diffs = [], [], []
            for q in val:
                row = question_row(questions[q])
                texts = prediction_texts(row, config.inputs, views[q][0] if views else None)
                probs = choice_probs(member.predict(texts).tolist())
                correct.append(probs[questions[q].correct_index] > 0.5)
                length, diff = _pair_difference(member.tokenizer, texts, config.max_length)
                lengths.append(length)
                diffs.append(diff)
            m = member.metrics
            fit = check_fit(m["final_epoch_loss"], m["prior_entropy"], cfg.w2s.unfit_tolerance)
            results.append(
                {
                    "variant": key,
                    "learning_rate": config.learning_rate,
                    "pooling": config.pooling,
                    "questions": n,
                    "examples": m["examples"],
                    "steps": m["steps"],
                    "final_epoch_loss": round(m["final_epoch_loss"], 4),
                    "prior_loss": round(m["prior_entropy"], 4),
                    "fit": fit.fit,
                    "validation_accuracy": round(float(np.mean(correct)), 4),
                    "validation_questions": len(val),
                    "mean_input_tokens": round(float(np.mean(lengths)), 1),
                    "pair_difference": round(float(np.mean(diffs)), 4),
                    "step_losses": m["step_losses"],
                    "train_seconds": m["train_seconds"],
                }
            )
            print(json.dumps({k: v for k, v in results[-1].items() if k != "step_losses"}))
    (out / "weak_fit.json").write_text(json.dumps(results, indent=1))
    _plot(results, out / "weak_fit.png")


def _plot(results: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.0, 3.8))
    for r in results:
        style = "-" if r["variant"].startswith("plain") else "--"
        steps = np.asarray(r["step_losses"], dtype=float)
        window = min(SMOOTH, len(steps))
        smooth = np.convolve(steps, np.ones(window) / window, mode="valid")
        ax.plot(
            np.arange(window, len(steps) + 1),
            smooth,
            style,
            lw=1.2,
            label=f"{r['variant']}, {r['questions']} q, lr {r['learning_rate']:g}",
        )
    ax.axhline(np.log(2), color="grey", lw=0.8, ls=":", label="prior (ln 2)")
    ax.set_xlabel("optimizer step")
    ax.set_ylabel(f"training loss, mean of {SMOOTH} steps")
    ax.set_title("Weak members' training loss by input and split-A size")
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    main()
