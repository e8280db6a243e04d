from pathlib import Path

import pytest

from graphs.protocols.debate import DebateProtocol
from oversight.config import ConfigError, load_config

ROOT = Path(__file__).resolve().parents[2]


def test_quickstart_config_is_valid() -> None:
    cfg = load_config(ROOT / "experiments" / "quickstart.toml")
    assert cfg.name == "quickstart"
    assert {p.kind for p in cfg.protocols.values()} == {"debate", "consultancy", "direct"}
    assert len(cfg.judges) >= 2
    assert isinstance(cfg.protocols["debate"], DebateProtocol)


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "exp.toml"
    path.write_text(text)
    return path


BASE = """
name = "x"
[data]
source = "arc"
[models.m]
model = "smollm2-135m-instruct"
[protocols.d]
kind = "debate"
model = "m"
[[judges]]
name = "j"
model = "m"
"""


def test_unknown_field_names_file_and_field(tmp_path: Path) -> None:
    path = _write(tmp_path, BASE.replace('source = "arc"', 'source = "arc"\nlimt = 3'))
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert str(path) in str(err.value)
    assert "data.limt" in str(err.value)


def test_bad_value_names_field(tmp_path: Path) -> None:
    path = _write(tmp_path, BASE.replace('kind = "debate"', 'kind = "debate"\nrounds = 0'))
    with pytest.raises(ConfigError, match=r"protocols\.d\.debate\.rounds"):
        load_config(path)


def test_unknown_model_alias_is_named(tmp_path: Path) -> None:
    path = _write(tmp_path, BASE.replace('model = "m"\n[[judges]]', 'model = "q"\n[[judges]]'))
    with pytest.raises(ConfigError, match=r"protocols\.d\.model: unknown model alias 'q'"):
        load_config(path)


def test_invalid_toml_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="invalid TOML"):
        load_config(_write(tmp_path, "name = "))
    with pytest.raises(ConfigError, match="file not found"):
        load_config(tmp_path / "nope.toml")


def test_hash_ignores_limit_and_store(tmp_path: Path) -> None:
    a = load_config(_write(tmp_path, BASE))
    b = a.model_copy(deep=True)
    b.data.limit = 5
    b.store = "sqlite:///other.db"
    assert a.config_hash() == b.config_hash()
    c = a.model_copy(deep=True)
    c.seed = 1
    assert a.config_hash() != c.config_hash()
