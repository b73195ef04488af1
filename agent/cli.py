"""`whyrec` — one click group; each subcommand lives in its own module under agent/commands/ and is imported
only when it runs, so `whyrec --help` stays instant (no torch, no chromadb)."""

from __future__ import annotations

import importlib
import importlib.util

import click

SUBCOMMANDS: dict[str, tuple[str, str]] = {
    # name: (module under agent.commands, one-line help shown by `whyrec --help`)
    "setup": ("setup", "Convert the shipped SmolLM2 weights once (needed by the local backend)."),
    "index": ("index", "Load a dataset, embed its items and upsert them and user histories into Chroma."),
    "ask": ("ask", "Ask for recommendations with grounded, verified reasons (one turn)."),
    "chat": ("chat", "Start the Gradio shopping chat."),
    "serve": ("serve", "Start a vLLM OpenAI-compatible server with the LoRA adapter."),
    "train": ("train", "Train the LoRA reasoner from real reviews."),
    "eval": ("eval", "Offline evaluation: faithfulness, explanation and ranking metrics as a grid."),
    "bench": ("bench", "Speed benchmarks: indexing, retrieval, chat turn, decode; prints and writes JSON."),
    "prompts": ("prompts", "List, show, validate and render the versioned prompt templates."),
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return [name for name in SUBCOMMANDS if self._module_exists(name)]

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in SUBCOMMANDS or not self._module_exists(name):
            return None
        module = importlib.import_module(f"agent.commands.{SUBCOMMANDS[name][0]}")
        return module.command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, SUBCOMMANDS[name][1]) for name in self.list_commands(ctx)]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)

    @staticmethod
    def _module_exists(name: str) -> bool:
        return importlib.util.find_spec(f"agent.commands.{SUBCOMMANDS[name][0]}") is not None


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """whyrec: recommendations that explain themselves with reasons citing real attributes and your history.

    Settings come from WHYREC_* environment variables or a .env file (see agent/settings.py);
    flags override them per command.
    """


if __name__ == "__main__":
    main()
