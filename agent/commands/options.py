"""Flags shared by the commands that run the chain; each overrides one field of Settings."""

from __future__ import annotations

import functools
from pathlib import Path

import click

from agent.settings import Settings


def settings_options(fn):
    @click.option("--dataset", default=None, help="Dataset folder under --data-dir (default: amazon2018_gift_cards).")
    @click.option("--data-dir", type=click.Path(path_type=Path), default=None, help="Folder of datasets (default ../shared/data).")
    @click.option("--chroma-url", default=None, help="Use a `chroma run` server, e.g. http://127.0.0.1:8001 (default: embedded).")
    @click.option("--backend", type=click.Choice(["local", "openai"]), default=None, help="LLM backend.")
    @click.option("--base-url", default=None, help="OpenAI-compatible server URL for --backend openai.")
    @click.option("--model", default=None, help="Server model name (a LoRA module name with vLLM).")
    @click.option("--adapter", type=click.Path(path_type=Path), default=None, help="LoRA adapter dir for the local backend.")
    @click.option("--template", default=None, help="Prompt template id (see `whyrec prompts ls`).")
    @functools.wraps(fn)
    def wrapper(dataset, data_dir, chroma_url, backend, base_url, model, adapter, template, **kwargs):
        overrides = {"dataset": dataset, "data_dir": data_dir, "chroma_url": chroma_url, "backend": backend,
                     "openai_base_url": base_url, "openai_model": model, "adapter": adapter, "template": template}
        settings = Settings(**{k: v for k, v in overrides.items() if v is not None})
        return fn(settings, **kwargs)

    return wrapper
