"""`whyrec prompts`: the versioned templates under prompts/."""

from __future__ import annotations

from pathlib import Path

import click

from prompts.loader import TEMPLATE_DIR, all_templates, get_template, load_file


@click.group("prompts")
def command() -> None:
    """List, show, validate and render the prompt templates (one YAML file per variant under prompts/)."""


@command.command("ls")
def ls() -> None:
    """One line per template: id, version, kind, description."""
    for t in all_templates().values():
        click.echo(f"{t.id:28} v{t.version:6} {t.kind:8} {' '.join(t.description.split())[:80]}")


@command.command("show")
@click.argument("template_id")
def show(template_id: str) -> None:
    """Print a template's YAML file."""
    click.echo((TEMPLATE_DIR / f"{get_template(template_id).id}.yaml").read_text())


@command.command("validate")
@click.argument("files", nargs=-1, type=click.Path(exists=True, path_type=Path))
def validate(files: tuple[Path, ...]) -> None:
    """Strictly load FILES (default: every template): unknown keys, undeclared or unused inputs fail."""
    failed = 0
    for path in files or sorted(TEMPLATE_DIR.glob("*.yaml")):
        try:
            t = load_file(path)
            click.echo(f"ok      {path.name}  ({t.id} v{t.version})")
        except ValueError as e:
            failed += 1
            click.echo(f"INVALID {path.name}: {e}", err=True)
    raise SystemExit(1 if failed else 0)


@command.command("render")
@click.argument("template_id")
@click.option("--set", "values", multiple=True, metavar="NAME=VALUE", help="An input value (others show as <NAME>).")
def render(template_id: str, values: tuple[str, ...]) -> None:
    """Render a template's messages with the given inputs."""
    t = get_template(template_id)
    given = dict(v.split("=", 1) for v in values)
    for message in t.render(**{name: given.get(name, f"<{name}>") for name in t.inputs}):
        click.echo(f"--- {message.type}\n{message.content}")
