"""Finding the shared real-data folder without hard-coding where a checkout lives."""

from __future__ import annotations

import os
from pathlib import Path

from oversight.data.errors import DataError

ENV_VAR = "OVERSIGHT_SHARED_DATA"


def shared_data_dir(explicit: str | Path | None = None) -> Path:
    """The shared data folder: ``explicit``, else ``$OVERSIGHT_SHARED_DATA``, else the first
    ``shared/data`` folder found in the current directory or its parents (a checkout sits
    beside ``shared/``), then likewise from this package's location (an editable install run
    from elsewhere)."""
    if explicit is not None:
        return _existing_dir(Path(explicit), "path")
    env = os.environ.get(ENV_VAR)
    if env:
        return _existing_dir(Path(env), ENV_VAR)
    starts = [Path.cwd(), Path(__file__).resolve().parent]
    for start in starts:
        for folder in (start, *start.parents):
            candidate = folder / "shared" / "data"
            if candidate.is_dir():
                return candidate.resolve()
    raise DataError(
        "shared data folder",
        f"not found: no shared/data in {starts[0]} or its parents; set ${ENV_VAR} or pass "
        "path= (the folder holding mmlu/, arc/, ...)",
    )


def _existing_dir(path: Path, field: str) -> Path:
    path = path.expanduser()
    if not path.is_dir():
        problem = "is a file, expected a folder" if path.exists() else "does not exist"
        raise DataError(path, problem, field=field)
    return path.resolve()
