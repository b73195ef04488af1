"""`whyrec ask`: one turn, or several messages as successive turns of one conversation, from the command line."""

from __future__ import annotations

import sys

import click

from agent.commands.options import settings_options
from agent.schemas import TOGETHER


def format_answer(answer) -> str:
    """The answer as a shopper reads it: ranked items, each reason, its verified facts, what could not be verified."""
    lines = [f"  [{' · '.join(c.label for c in answer.constraints)}]"] if answer.constraints else []
    lines += [f"  ! {note}" for note in answer.notes]
    for rec in answer.recommendations:
        price = f"${rec.price:.2f}" if rec.price is not None else "price n/a"
        lines.append(f"{rec.rank}. {rec.title} [{rec.item_id}] — {price} (score {rec.score:.3f})")
        for reason in rec.reasons:
            lines.append(f"   why: {reason.text}" + ("  (built from verified facts)" if reason.fallback else ""))
            for c in reason.claims:
                cited = f"your past item {c.history_item_id}" if c.kind == "history" else c.kind
                if c.attribute == TOGETHER:
                    value = f": {c.value} other shoppers had both"
                else:
                    value = f" {c.attribute}={c.value}" if c.attribute else ""
                lines.append(f"     ✓ {cited}{value}")
            for c in reason.unverified:
                lines.append(f"     ✗ not verified: {c.attribute}={c.value} ({c.why})")
    if not answer.recommendations and not answer.notes:
        lines.append("No recommendations.")
    return "\n".join(lines)


@click.command("ask")
@settings_options
@click.option("--user", "user_id", default=None, help="Shopper id (a reviewer id in the dataset); omit for a new shopper.")
@click.option("--k", type=int, default=None, help="How many recommendations (default from settings: 5).")
@click.option("--json", "as_json", is_flag=True,
              help="Print JSON: the full answer (claims, provenance, active constraints, relaxations, notes); "
                   "with several messages, an array of one answer per turn.")
@click.argument("messages", nargs=-1, required=True)
def command(settings, user_id: str | None, k: int | None, as_json: bool, messages: tuple[str, ...]) -> None:
    """Recommend items for each of MESSAGES, each with reasons whose claims cite the item's real attributes and the
    shopper's real history, verified before they are shown. Several messages are successive turns of ONE
    conversation: later ones refine the earlier ("not Amazon please", "cheaper", "why the second one?") and the
    active constraints carry over.

    \b
    Examples:
      whyrec ask --dataset amazon2018_gift_cards --user A1B2C3 "a birthday gift card under $50"
      whyrec ask --user A1B2C3 "a birthday gift card under $50" "not Amazon please" "cheaper"
    """
    from agent.conversation import Conversation
    from agent.service import Whyrec
    from index.build import IndexNotBuilt
    from index.loaders import DatasetError

    if k is not None:
        settings.k = k
    whyrec, conversation, answers = Whyrec(settings), Conversation(user_id=user_id), []
    try:
        for i, message in enumerate(messages):
            answer = whyrec.ask(message, user_id=user_id, conversation=conversation)
            answers.append(answer)
            if not as_json:
                if len(messages) > 1:
                    click.echo(f"{'' if i == 0 else chr(10)}> {message}")
                click.echo(format_answer(answer))
                sys.stdout.flush()
    except (DatasetError, IndexNotBuilt) as e:  # a wrong --dataset or a missing index: a sentence, not a traceback
        click.echo(f"error: {e}", err=True)
        sys.exit(2)
    if as_json:
        if len(answers) == 1:
            click.echo(answers[0].model_dump_json(indent=2))
        else:
            click.echo("[" + ",\n".join(a.model_dump_json(indent=2) for a in answers) + "]")
    sys.stdout.flush()
