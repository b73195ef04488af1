"""Security defaults: servers bind 127.0.0.1 unless told otherwise, the vLLM key and the chat login are supported,
nothing eval()s data, a dataset name cannot walk out of the data folder, and the API key never reaches argv, logs,
answers or a repr."""

from __future__ import annotations

import ast
import inspect
import os
import subprocess
import sys
from pathlib import Path

import pytest

from agent.settings import PROJECT_ROOT, Settings
from fault_server import FaultServer, free_port

pytestmark = pytest.mark.faults

WHYREC = str(Path(sys.executable).with_name("whyrec"))
SECRET = "sk-whyrec-fault-suite-7f3a9c"
CODE_DIRS = ("agent", "index", "eval", "prompts")


def test_servers_bind_localhost_by_default(figures):
    from agent.commands import chat, serve
    from agent.serve import VllmServer
    from agent.ui import launch

    defaults = {
        "whyrec chat --host": next(p.default for p in chat.command.params if p.name == "host"),
        "whyrec serve --host": next(p.default for p in serve.command.params if p.name == "host"),
        "agent.ui.launch(host=)": inspect.signature(launch).parameters["host"].default,
        "VllmServer(host=)": inspect.signature(VllmServer.__init__).parameters["host"].default,
    }
    assert set(defaults.values()) == {"127.0.0.1"}, defaults
    assert Settings().openai_base_url.startswith("http://127.0.0.1")
    figures.record("security_defaults", default_binds=defaults)


def dangerous_calls(path: Path) -> list[str]:
    """Calls that run or unpickle text: eval, exec, compile, pickle/marshal loads, yaml.load (not safe_load).
    Found in the syntax tree, so `ast.literal_eval`, torch's `model.eval()` and the word in prose are not hits."""
    banned_names = {"eval", "exec", "compile", "__import__"}
    banned_attrs = {("pickle", "load"), ("pickle", "loads"), ("marshal", "load"), ("marshal", "loads"),
                    ("yaml", "load"), ("yaml", "unsafe_load"), ("dill", "loads"), ("builtins", "eval")}
    hits = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Name) and func.id in banned_names:
            hits.append(f"{path.relative_to(PROJECT_ROOT)}:{node.lineno}: {func.id}(")
        elif isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and (func.value.id, func.attr) in banned_attrs:
            hits.append(f"{path.relative_to(PROJECT_ROOT)}:{node.lineno}: {func.value.id}.{func.attr}(")
    return hits


def test_no_eval_or_exec_of_data_anywhere_in_the_code(figures):
    files = [p for d in CODE_DIRS for p in (PROJECT_ROOT / d).rglob("*.py")]
    hits = [hit for p in files for hit in dangerous_calls(p)]
    assert len(files) > 30 and not hits, hits
    # and the data readers really use literal_eval for the Python-literal files
    assert "ast.literal_eval" in (PROJECT_ROOT / "index" / "loaders" / "reading.py").read_text()
    figures.record("security_defaults", python_files_scanned=len(files), eval_exec_hits=len(hits))


@pytest.mark.parametrize("name", ["../../etc", "..", "/etc", "amazon2018_gift_cards/../../..", "steam/../steam"])
def test_dataset_names_cannot_leave_the_data_folder(name):
    from index.loaders import DatasetError, load_dataset

    with pytest.raises(DatasetError, match="unknown dataset"):
        load_dataset(name, Settings().data_dir)


@pytest.mark.parametrize("command", ["index", "ask"])
def test_cli_refuses_a_dataset_path_with_a_message(command, tmp_path, figures):
    args = [WHYREC, command, "--dataset", "../../etc"] + (["a gift card"] if command == "ask" else [])
    out = subprocess.run(args, env={**os.environ, "WHYREC_HOME": str(tmp_path)}, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode != 0
    assert "Traceback" not in out.stdout + out.stderr, out.stderr[-2000:]
    assert "unknown dataset" in out.stderr
    figures.record("security_defaults", **{f"whyrec {command} --dataset ../../etc": f"exit {out.returncode}, refused"})


def test_api_key_goes_to_vllm_in_the_environment_never_argv_or_log(tmp_path, figures):
    """A stand-in `python` that records what it was given and exits: the key is in its environment only."""
    from agent.serve import ServeSettings, VllmServer, VllmStartError

    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    fake = venv / "bin" / "python"
    fake.write_text(f'#!/bin/sh\necho "argv: $*"\nprintf %s "$VLLM_API_KEY" > {tmp_path}/key_seen\nexit 3\n')
    fake.chmod(0o755)
    (tmp_path / "model").mkdir()
    server = VllmServer(tmp_path / "model", served_name="m", api_key=SECRET, log_path=tmp_path / "vllm.log",
                        settings=ServeSettings(venv=venv, device="cpu", startup_timeout_s=20))
    assert server.host == "127.0.0.1"
    assert SECRET not in " ".join(server.command())
    with pytest.raises(VllmStartError) as error:
        server.start()
    assert (tmp_path / "key_seen").read_text() == SECRET
    assert SECRET not in (tmp_path / "vllm.log").read_text() and SECRET not in str(error.value)
    assert SECRET not in repr(server.__dict__.get("process"))
    figures.record("security_defaults", vllm_api_key="via VLLM_API_KEY env; not in argv, log or errors")


def test_settings_repr_hides_the_key():
    settings = Settings(openai_api_key=SECRET)
    assert SECRET not in repr(settings) and SECRET not in str(settings)


def test_cli_ask_never_prints_or_logs_the_key(gift_settings, figures):
    """The key reaches the server's Authorization header and nowhere else: not stdout/stderr, logs or the answer."""
    env = {**os.environ, "WHYREC_HOME": str(gift_settings.home), "WHYREC_OPENAI_API_KEY": SECRET,
           "WHYREC_REQUEST_TIMEOUT_S": "3"}
    with FaultServer("prose") as server:
        headers = []
        out = subprocess.run([WHYREC, "ask", "--backend", "openai", "--base-url", server.url, "--json",
                              "a gift card under $50"], env=env, capture_output=True, text=True, timeout=300)
        headers = server.requests
    assert out.returncode == 0, out.stderr[-2000:]
    assert headers, "the request never reached the server"
    assert SECRET not in out.stdout + out.stderr
    logs = list((gift_settings.home / "logs").rglob("*")) if (gift_settings.home / "logs").exists() else []
    assert not [p for p in logs if p.is_file() and SECRET in p.read_text(errors="replace")]
    # and the other way round: a server down gives a note naming the error type, not the request or the key
    env["WHYREC_OPENAI_BASE_URL"] = f"http://127.0.0.1:{free_port()}/v1"
    down = subprocess.run([WHYREC, "ask", "--backend", "openai", "a gift card"], env=env, capture_output=True,
                          text=True, timeout=300)
    assert down.returncode == 0 and SECRET not in down.stdout + down.stderr
    figures.record("security_defaults", api_key_in_cli_output_or_logs=0)


def test_chat_login_is_required_when_auth_is_set(local_whyrec, figures):
    from gradio_client import Client

    from agent.commands.chat import parse_auth
    from agent.ui import launch

    assert parse_auth("shop:pa55") == ("shop", "pa55")
    demo, url = launch(local_whyrec, port=free_port(), auth=("shop", "pa55"), block=False)
    try:
        assert url.startswith("http://127.0.0.1:")
        with pytest.raises(Exception) as refused:
            Client(url, verbose=False)
        with pytest.raises(Exception):
            Client(url, auth=("shop", "wrong"), verbose=False)
        client = Client(url, auth=("shop", "pa55"), verbose=False)
        assert "/recommend" in client.view_api(return_format="dict", print_info=False)["named_endpoints"]
    finally:
        demo.close()
    figures.record("security_defaults", gradio_auth=f"no login -> {type(refused.value).__name__}; "
                                                    "wrong password refused; right login -> API")
