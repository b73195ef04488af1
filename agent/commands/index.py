"""`whyrec index`: load a dataset, embed its items, upsert items and user histories into Chroma."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import click


def format_counts(counts: dict) -> str:
    def by_reason(counter: dict) -> str:
        return ", ".join(f"{k} {v:,}" for k, v in sorted(counter.items())) or "none"

    lines = [
        f"Indexed {counts['dataset']} (snapshot {counts['snapshot']}) in {counts['seconds']:.1f} s "
        f"({counts['items_per_s']:,} items/s)",
        f"  items {counts['items']:,}   interactions {counts['interactions']:,}   users {counts['users']:,}"
        f"   bundles {counts['bundles']:,}",
        f"  lines read: {by_reason(counts['lines_read'])}",
        f"  skipped: {by_reason(counts['skipped'])}",
        f"  repaired: {by_reason(counts['repaired'])}",
        f"  out of scope: {by_reason(counts['unused'])}",
        f"  this run: encoded {counts['encoded']:,}, wrote {counts['items_written']:,} items and "
        f"{counts['history_written']:,} history rows, deleted {counts['deleted']:,} stale rows",
        "  collections: " + ", ".join(f"{name} {n:,}" for name, n in counts["collections"].items()),
    ]
    if counts.get("rebuilt"):
        lines.append("  rebuilt (Chroma could not read them): " + ", ".join(counts["rebuilt"]))
    if "quote_sentences_encoded" in counts:
        lines.append(f"  quotes: embedded {counts['quote_sentences_encoded']:,} review sentences in "
                     f"{counts['quote_sentences_s']:.1f} s")
    return "\n".join(lines)


@click.command("index")
@click.option("--dataset", default=None, help="Dataset folder under --data-dir (default from settings: "
                                               "amazon2018_gift_cards).")
@click.option("--data-dir", type=click.Path(path_type=Path), default=None,
              help="Folder holding one folder per dataset (default ../shared/data).")
@click.option("--chroma-url", default=None,
              help="Index into a `chroma run` server, e.g. http://127.0.0.1:8001 (default: embedded, under .whyrec/).")
@click.option("--json", "as_json", is_flag=True, help="Print the counts as JSON instead of a summary.")
@click.option("--quiet", is_flag=True, help="No progress bars.")
def command(dataset: str | None, data_dir: Path | None, chroma_url: str | None, as_json: bool, quiet: bool) -> None:
    """Load a dataset, embed its items with MiniLM and upsert items and user histories into Chroma.

    Safe to re-run: rows whose content is unchanged are skipped (a second run encodes nothing), and a run that was
    interrupted picks up where it stopped. Runs on one home and dataset take turns: a second one says it waits,
    then waits for the first. Beside Chroma, under the home, it stores what the chat needs besides the rows
    (co-occurrence, rating scale, reviews for quotes and their sentences' embeddings) and the collaborative model,
    so a chat needs no data files.
    Prints what was read, skipped and repaired, by reason.

    \b
    Examples:
      whyrec index --dataset amazon2018_gift_cards
      whyrec index --dataset steam --json
      whyrec index --dataset steam --chroma-url http://127.0.0.1:8001
    """
    from agent.quotes import store_quote_vectors
    from agent.settings import Settings
    from index.build import build_index
    from index.loaders import DatasetError

    overrides = {"dataset": dataset, "data_dir": data_dir, "chroma_url": chroma_url}
    settings = Settings(**{k: v for k, v in overrides.items() if v is not None})
    try:
        counts = build_index(settings.dataset, settings, progress=not quiet)
        started = time.perf_counter()
        counts["quote_sentences_encoded"] = store_quote_vectors(settings)
        counts["quote_sentences_s"] = round(time.perf_counter() - started, 1)
    except DatasetError as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(2)
    except (ConnectionError, OSError) as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(1)
    click.echo(json.dumps(counts, indent=2) if as_json else format_counts(counts))
