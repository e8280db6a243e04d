"""Finding the shared data folder, and DataError's message and pickling."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from oversight.data import DataError, shared_data_dir
from oversight.data.paths import ENV_VAR


def test_explicit_path_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_VAR, "/nowhere")
    assert shared_data_dir(tmp_path) == tmp_path.resolve()


def test_env_var(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_VAR, str(tmp_path))
    assert shared_data_dir() == tmp_path.resolve()
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "missing"))
    with pytest.raises(DataError, match=rf"missing: field '{ENV_VAR}': does not exist"):
        shared_data_dir()


def test_found_in_a_parent_of_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "shared" / "data").mkdir(parents=True)
    checkout = tmp_path / "main" / "sub"
    checkout.mkdir(parents=True)
    monkeypatch.delenv(ENV_VAR, raising=False)
    monkeypatch.chdir(checkout)
    assert shared_data_dir() == (tmp_path / "shared" / "data").resolve()


def test_a_file_is_not_a_folder(tmp_path: Path) -> None:
    file = tmp_path / "f.txt"
    file.write_text("x")
    with pytest.raises(DataError, match="field 'path': is a file, expected a folder"):
        shared_data_dir(file)


def test_data_error_message_and_pickling() -> None:
    err = DataError(
        "arc/x.jsonl", "'E' is not one of the choice labels", field="answerKey", line=12
    )
    assert str(err) == "arc/x.jsonl line 12: field 'answerKey': 'E' is not one of the choice labels"
    assert isinstance(err, ValueError)
    again = pickle.loads(pickle.dumps(err))
    assert (str(again), again.field, again.line) == (str(err), "answerKey", 12)
    assert str(DataError("t.parquet", "bad", row=0)) == "t.parquet row 0: bad"
