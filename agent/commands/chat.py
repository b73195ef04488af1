"""`whyrec chat`: the Gradio shopping chat."""

from __future__ import annotations

import click

from agent.commands.options import settings_options


def parse_auth(value: str | None) -> tuple[str, str] | None:
    if value is None:
        return None
    user, sep, password = value.partition(":")
    if not sep or not user or not password:
        raise click.BadParameter("expected USER:PASSWORD", param_hint="--auth")
    return user, password


@click.command("chat")
@settings_options
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Interface to bind. Keep the default unless you mean to expose the chat (see below).")
@click.option("--port", type=int, default=7860, show_default=True)
@click.option("--auth", default=None, metavar="USER:PASSWORD", help="Require this login (Gradio auth).")
@click.option("--concurrency", type=click.IntRange(1, 16), default=1, show_default=True,
              help="Chat turns run at once across all sessions; the rest wait in a queue that shows their place.")
@click.option("--users", "user_limit", type=click.IntRange(0), default=200, show_default=True,
              help="How many dataset shoppers the 'Who are you?' list offers (any id can still be typed).")
def command(settings, host: str, port: int, auth: str | None, concurrency: int, user_limit: int) -> None:
    """Start the shopping chat: pick a shopper from the dataset (or a new one), ask for something, refine it
    ("cheaper", "another brand", "why the second one?"), and see each pick as a card whose reasons cite the item's
    attributes and the shopper's past ratings, with anything the verifier could not confirm marked.

    \b
    The model is loaded once and shared by every browser session; each session keeps its own conversation.
    --concurrency 1 (default) runs one turn at a time: on 2 CPU cores a single generate already uses both,
    so parallel turns only split the cores and each takes longer, and the in-process model is not thread-safe.
    With --backend openai a vLLM server batches requests itself; raise --concurrency to match it.

    \b
    Exposing it beyond this machine (it binds 127.0.0.1 by default):
      - preferred: keep 127.0.0.1 and put a reverse proxy with TLS in front (nginx/Caddy -> 127.0.0.1:7860);
      - or: --host 0.0.0.0 --auth USER:PASSWORD (plain HTTP: only on a network you trust).

    \b
    Examples:
      whyrec chat
      whyrec chat --dataset amazon2018_gift_cards --port 7861
      whyrec chat --backend openai --base-url http://127.0.0.1:8000/v1 --model whyrec-lora
    API (gradio_client): Client(url).predict(user_id, message, api_name="/recommend") -> the answer as a dict.
    """
    from agent.service import Whyrec
    from agent.ui import launch
    from index.build import IndexNotBuilt

    login = parse_auth(auth)
    if host not in ("127.0.0.1", "localhost", "::1") and login is None:
        click.echo(f"warning: serving on {host} without --auth: anyone who can reach it can use it.", err=True)
    click.echo(f"loading {settings.dataset} with the {settings.backend} backend…", err=True)
    try:
        launch(Whyrec(settings), host=host, port=port, auth=login, concurrency=concurrency, user_limit=user_limit)
    except IndexNotBuilt as e:
        raise click.ClickException(str(e)) from None
