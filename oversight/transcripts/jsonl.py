"""The ``jsonl`` transcript format: one :mod:`record <oversight.transcripts.records>` per line."""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

from oversight.data.errors import DataError
from oversight.store import JudgeEnsemble, Store
from oversight.transcripts.bundle import DebateBundle, ExperimentSpec
from oversight.transcripts.records import RecordError, experiment_records, parse_record


def export_jsonl(store: Store, experiment: str, out: Path) -> int:
    """Write every debate of the experiment to ``out``; returns the number of records.

    The records go to a temporary file beside ``out`` that replaces it only once complete, so
    a failed export (an unknown experiment, a full disk) leaves a previous export untouched.
    """
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{secrets.token_hex(4)}.tmp")
    n = 0
    try:
        # O_EXCL: never write through a file or link that is already there.
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            for record in experiment_records(store, experiment):
                fh.write(json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n")
                n += 1
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return n


ParsedRecord = tuple[ExperimentSpec, list[JudgeEnsemble], DebateBundle]


def read_jsonl(path: Path, experiment: str | None = None) -> list[ParsedRecord]:
    """Parse every line of ``path`` before anything is written, so a bad line rejects the file.

    Raises:
        DataError: naming the file, the 1-based line and the field of the first problem.
    """
    try:
        # Lines end at "\n" only: str.splitlines() would also split at U+2028, U+0085 and
        # friends, which JSON strings (model text) hold unescaped.
        lines = [line.removesuffix("\r") for line in path.read_text(encoding="utf-8").split("\n")]
    except (OSError, UnicodeDecodeError) as err:
        raise DataError(path, f"cannot read: {err}") from None
    parsed: list[ParsedRecord] = []
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as err:
            raise DataError(path, f"invalid JSON: {err.msg} (column {err.colno})", line=n) from None
        try:
            parsed.append(parse_record(record, experiment))
        except RecordError as err:
            raise DataError(path, err.problem, field=err.field or None, line=n) from None
    return parsed
