"""`whyrec setup`: the shipped GGUF is found without importing its package, converted once, atomically."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from agent.commands.setup import command as setup_command
from agent.llm.convert import GGUF_NAME, REQUIRED_FILES, convert_gguf, find_gguf, is_complete


def test_the_gguf_is_found_in_the_installed_wheel() -> None:
    path = find_gguf()
    assert path.name == GGUF_NAME and path.stat().st_size > 50_000_000


def test_a_partial_folder_is_not_taken_for_a_model(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{}")
    assert not is_complete(tmp_path)


def test_a_complete_model_is_left_alone(tmp_path: Path) -> None:
    for name in REQUIRED_FILES:
        (tmp_path / name).write_text("x")
    result = convert_gguf(tmp_path)
    assert not result.converted
    assert (tmp_path / "model.safetensors").read_text() == "x"


@pytest.mark.slow
def test_setup_converts_once_then_skips(tmp_path: Path) -> None:
    target = tmp_path / "models" / "SmolLM2-135M-Instruct"
    first = CliRunner().invoke(setup_command, ["--model-dir", str(target)])
    assert first.exit_code == 0, first.output
    assert "converted" in first.output and is_complete(target)
    assert [p.name for p in target.parent.iterdir()] == [target.name]  # no staging folder left behind

    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(target)
    assert config.model_type == "llama" and config.vocab_size == 49152
    assert not hasattr(config, "quantization_config")  # saved as plain bf16 weights, loadable without gguf

    second = CliRunner().invoke(setup_command, ["--model-dir", str(target)])
    assert second.exit_code == 0 and "already converted" in second.output
