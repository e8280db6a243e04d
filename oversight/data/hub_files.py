"""Rows in the Hugging Face Hub's format: from local files, or from the Hub via ``datasets``.

Local copies may be one ``.jsonl`` / ``.json`` / ``.parquet`` file (one split), a folder laid
out like a Hub repository (``data/test-00000-of-00001.parquet``), or a ``save_to_disk`` folder.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from oversight.data.errors import DataError
from oversight.data.rows import Where, check_unicode, parse_json_object, read_jsonl

ROW_SUFFIXES = (".jsonl", ".json", ".parquet")

_DEV_NAMES = {"dev", "validation", "valid", "val"}


def canonical_split(split: str) -> str:
    """The split name stored on questions: ``train``, ``dev`` or ``test`` (``validation`` and
    its short forms are ``dev``), so one question gets one split name whatever was asked."""
    name = split.strip().lower()
    return "dev" if name in _DEV_NAMES else name


def hub_split(split: str) -> str:
    """The Hub's name for a split (the Hub says ``validation`` where we say ``dev``)."""
    name = canonical_split(split)
    return "validation" if name == "dev" else name


def rows_from_path(path: Path, split: str) -> Iterator[tuple[Where, dict[str, Any]]]:
    """The rows of one split in a local file or Hub-style folder."""
    if path.is_file():
        yield from rows_from_file(path)
    elif path.is_dir():
        if (path / "dataset_dict.json").is_file() or (path / "state.json").is_file():
            yield from _rows_from_saved(path, split)
            return
        files = split_files(path, split)
        for file in files:
            yield from rows_from_file(file)
    else:
        raise DataError(path, "does not exist", field="path")


def split_files(folder: Path, split: str) -> list[Path]:
    """Files of one split in a Hub-style folder: named ``{split}.*`` or ``{split}-*``, or
    inside a folder named after the split."""
    found = []
    for file in sorted(folder.rglob("*")):
        if not file.is_file() or file.suffix.lower() not in ROW_SUFFIXES:
            continue
        stem = file.name.split(".")[0]
        in_split_folder = split in file.relative_to(folder).parts[:-1]
        if stem == split or stem.startswith(f"{split}-") or in_split_folder:
            found.append(file)
    if not found:
        raise DataError(
            folder,
            f"no {'/'.join(ROW_SUFFIXES)} files for split {split!r} "
            f"(expected {split}.jsonl, {split}-*.parquet or a {split}/ folder)",
            field="split",
        )
    return found


def rows_from_file(path: Path) -> Iterator[tuple[Where, dict[str, Any]]]:
    """The rows of one ``.jsonl``, ``.json`` or ``.parquet`` file."""
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        yield from read_jsonl(path)
    elif suffix == ".json":
        yield from _read_json(path)
    elif suffix == ".parquet":
        yield from _read_parquet(path)
    else:
        raise DataError(
            path, f"unsupported file type; expected one of {ROW_SUFFIXES}", field="path"
        )


def rows_from_hub(hub_id: str, split: str) -> Iterator[tuple[Where, dict[str, Any]]]:
    """One split from the Hub through ``datasets.load_dataset`` (cached by ``datasets``)."""
    from datasets import load_dataset  # imported here: slow to import, rarely needed

    try:
        dataset = load_dataset(hub_id, split=split)
    except Exception as exc:  # the Hub client raises many types; all mean "not loadable"
        raise DataError(
            f"hub:{hub_id}",
            f"split {split!r} could not be loaded ({type(exc).__name__}: {exc}); "
            "without the Hub, pass path= to a local copy",
            field="split",
        ) from exc
    yield from _numbered(f"hub:{hub_id}[{split}]", dataset)


def _read_json(path: Path) -> Iterator[tuple[Where, dict[str, Any]]]:
    """A JSON array of rows, ``{"data": [rows]}``, or JSON Lines under a ``.json`` name (what
    ``Dataset.to_json`` writes by default)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(path, f"cannot be read: {exc}") from None
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        yield from read_jsonl(path)
        return
    check_unicode(text, value, Where(path))
    if isinstance(value, dict):
        (inner,) = value.values() if len(value) == 1 else (None,)
        if not (isinstance(inner, list) and all(isinstance(r, dict) for r in inner)):
            yield parse_json_object(text, Where(path, line=1))  # a one-line JSON Lines file
            return
        value = inner
    if not isinstance(value, list):
        raise DataError(path, f"expected a list of rows, got {type(value).__name__}")
    for index, item in enumerate(value):
        if not isinstance(item, dict):
            raise DataError(path, f"expected an object, got {type(item).__name__}", row=index)
        yield Where(path, row=index), item


def _read_parquet(path: Path) -> Iterator[tuple[Where, dict[str, Any]]]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except (OSError, pa.ArrowException) as exc:
        raise DataError(path, f"not a readable Parquet file: {exc}") from None
    yield from _numbered(path, table.to_pylist())


def _rows_from_saved(path: Path, split: str) -> Iterator[tuple[Where, dict[str, Any]]]:
    from datasets import Dataset, load_from_disk

    saved = load_from_disk(str(path))
    if isinstance(saved, Dataset):
        yield from _numbered(path, saved)
        return
    if split not in saved:
        raise DataError(
            path, f"split {split!r} not in this dataset; it has {sorted(saved)}", field="split"
        )
    yield from _numbered(f"{path}[{split}]", saved[split])


def _numbered(where: str | Path, rows: Iterable[Any]) -> Iterator[tuple[Where, dict[str, Any]]]:
    for index, row in enumerate(rows):
        yield Where(where, row=index), dict(row)
