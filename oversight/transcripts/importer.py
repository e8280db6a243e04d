"""Importing transcript files into the Store, file by file.

Each file is parsed and checked whole before any of it is written (its records' meaning, and
that its experiments and debates do not clash with the Store's), so a malformed file adds
nothing and is reported with the file and field at fault, while the other files still import.
Writes are insert-or-ignore, so importing the same files again adds nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from sqlmodel import col

from oversight.data.errors import DataError
from oversight.store import Debate, Experiment, JudgeEnsemble, Store, StoreError
from oversight.transcripts.bundle import Added, ExperimentSpec, open_experiment, write_bundle
from oversight.transcripts.jsonl import ParsedRecord, read_jsonl
from oversight.transcripts.nyu import DEFAULT_EXPERIMENT, experiment_spec, nyu_bundle

ImportFormat = Literal["jsonl", "nyu"]
FORMATS: tuple[ImportFormat, ...] = ("jsonl", "nyu")
SUFFIXES: dict[ImportFormat, str] = {"jsonl": ".jsonl", "nyu": ".json"}
"""Files picked up from a folder given as a path."""


@dataclass
class FileResult:
    """What one file added, or why it was rejected."""

    path: Path
    debates: int = 0
    """Debates the file holds."""
    added: Added = field(default_factory=Added)
    error: str | None = None


@dataclass
class ImportReport:
    """Per file, what an import added or why the file was rejected."""

    format: ImportFormat
    experiments: list[str] = field(default_factory=list)
    files: list[FileResult] = field(default_factory=list)

    @property
    def added(self) -> Added:
        total = Added()
        for f in self.files:
            total += f.added
        return total

    @property
    def failed(self) -> list[FileResult]:
        return [f for f in self.files if f.error is not None]


def expand_paths(paths: Iterable[Path], fmt: ImportFormat) -> list[Path]:
    """The files to import: each file given, and the format's files inside each folder given."""
    out: list[Path] = []
    for p in paths:
        if p.is_dir():
            out += sorted(q for q in p.iterdir() if q.suffix == SUFFIXES[fmt] and q.is_file())
        else:
            out.append(p)
    return out


def import_files(
    store: Store,
    fmt: ImportFormat,
    paths: Iterable[Path],
    *,
    experiment: str | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> ImportReport:
    """Import files of one format; ``experiment`` names the experiment they go into.

    NYU debates go into ``experiment`` (default ``nyu-debates``); JSONL records go into the
    experiment they were exported from unless ``experiment`` renames it.

    Raises:
        StoreError: the NYU target experiment exists with another config (nothing imported).
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown import format {fmt!r} (known: {', '.join(FORMATS)})")
    files = expand_paths(paths, fmt)
    report = ImportReport(fmt)
    nyu_exp = (
        open_experiment(store, experiment_spec(experiment or DEFAULT_EXPERIMENT))
        if fmt == "nyu"
        else None
    )
    for i, path in enumerate(files):
        result = FileResult(path)
        report.files.append(result)
        try:
            if not path.is_file():
                raise DataError(path, "no such file")
            if nyu_exp is not None:
                bundle = nyu_bundle(path, nyu_exp.name)
                result.debates = 1
                result.added += write_bundle(store, nyu_exp, bundle)
                _note(report, nyu_exp)
            else:
                _import_jsonl(store, path, experiment, result, report)
        except (DataError, StoreError) as err:
            result.error = str(err)
        if progress:
            progress(i + 1, len(files))
    return report


def _import_jsonl(
    store: Store, path: Path, experiment: str | None, result: FileResult, report: ImportReport
) -> None:
    parsed = read_jsonl(path, experiment)
    result.debates = len(parsed)
    _check_targets(store, parsed)
    opened: dict[str, Experiment] = {}
    for spec, ensembles, bundle in parsed:
        exp = opened.get(spec.name)
        if exp is None:
            exp = opened[spec.name] = _open_with_ensembles(store, spec, ensembles)
            _note(report, exp)
        result.added += write_bundle(store, exp, bundle)


def _check_targets(store: Store, parsed: list[ParsedRecord]) -> None:
    """Raise, before anything is written, the conflicts that writing would meet part-way: an
    experiment stored with another config, or a debate stored in another experiment."""
    hashes: dict[str, str] = {}
    for spec, _, _ in parsed:
        if hashes.setdefault(spec.name, spec.config_hash) != spec.config_hash:
            raise StoreError(
                f"experiment {spec.name!r} appears with two configs (hash {hashes[spec.name]} "
                f"and {spec.config_hash}); import the records under separate names"
            )
    stored_ids: dict[str, int | None] = {}
    for name, config_hash in hashes.items():
        exp = store.experiment(name)
        stored_ids[name] = None if exp is None else exp.id
        if exp is not None and exp.config_hash != config_hash:
            raise StoreError(
                f"experiment {name!r} already exists in {store.url} with a different config "
                f"(hash {exp.config_hash}, importing {config_hash}); import under another "
                "name with --experiment"
            )
    target = {bundle.debate.id: spec.name for spec, _, bundle in parsed}
    ids = list(target)
    for i in range(0, len(ids), 500):
        for debate in store.all(Debate, col(Debate.id).in_(ids[i : i + 500])):
            if debate.experiment_id != stored_ids[target[debate.id]]:
                raise StoreError(
                    f"debate {debate.id} ({debate.key}) is already stored in another experiment"
                )


def _open_with_ensembles(
    store: Store, spec: ExperimentSpec, ensembles: list[JudgeEnsemble]
) -> Experiment:
    exp = open_experiment(store, spec)
    assert exp.id is not None
    store.insert_ignore(
        [e.model_copy(update={"experiment_id": exp.id, "id": None}) for e in ensembles]
    )
    return exp


def _note(report: ImportReport, exp: Experiment) -> None:
    if exp.name not in report.experiments:
        report.experiments.append(exp.name)
