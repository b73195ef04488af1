"""How varied the adapter's training targets are on the grid's own held-out pairs: the ceiling of what an adapter
that learns them can show.

The adapter grid (eval/grids/adapter.yaml) asks every held-out pair the same message, and an adapter writes what its
training targets (agent/train/data.py) would say for that prompt. If the targets' own composer (`TargetBuilder`),
given the same pairs, histories and message, repeats one sentence across pairs, no training run can meet the
variety bars (USR, top text share, DIV) — 2 CPU hours spent to learn that. This runs in a minute: it builds each
pair's target (no model) for every explain template and scores the texts with the grid's own metrics.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from pathlib import Path
from typing import Any

from agent.train.data import Shape, TargetBuilder
from agent.understand import understand
from eval.grid import DEFAULT_MESSAGE
from eval.heldout import HeldOut, load_heldout
from eval.metrics import features_in
from eval.metrics.text import feature_diversity, feature_match, top_text_share, unique_sentence_ratio
from index.split import Pair
from prompts.loader import Template, get_template

ADAPTER_GRID = Path(__file__).parent / "grids" / "adapter.yaml"  # whose datasets, templates and pairs are measured


def target_texts(heldout: HeldOut, template_id: str, limit: int | None = 100,
                 shape: Shape | None = None) -> tuple[list[str], int]:
    """The target text of each of the first `limit` held-out test pairs (sorted by user, as the grid takes them),
    asked the grid's message; and how many pairs have none (no claim fits the template)."""
    made = paired_targets(heldout, template_id, limit, shape)
    return [text for _, text in made], len(heldout.pairs[:limit]) - len(made)


def with_reason_chars(template: Template, reason_chars: int | None) -> Template:
    """The template with another length limit for its reasons (None: as it is): what its targets would reach there."""
    if reason_chars is None:
        return template
    generation = template.generation.model_copy(update={"reason_max_chars": reason_chars})
    return template.model_copy(update={"generation": generation})


def paired_targets(heldout: HeldOut, template_id: str, limit: int | None = 100, shape: Shape | None = None,
                   reason_chars: int | None = None) -> list[tuple[Pair, str]]:
    """(pair, target text) of those of the first `limit` held-out pairs that have a target (with `reason_chars`,
    as if the template allowed that many characters)."""
    shape = shape or Shape()
    catalogue = heldout.catalogue
    builder = TargetBuilder(catalogue, [with_reason_chars(get_template(template_id), reason_chars)])
    request = understand(DEFAULT_MESSAGE, catalogue)
    out = []
    for pair in heldout.pairs[:limit]:
        made = builder.example(heldout.dataset.name, pair.user_id, catalogue.get(pair.item_id), request,
                               heldout.history(pair.user_id)[: shape.max_history], [], shape.max_attributes,
                               position=0)  # the grid explains each pair as an answer's first card
        if not isinstance(made, str):
            out.append((pair, str(made.target["text"])))
    return out


def target_variety(dataset: str, data_dir: Path, templates: list[str], limit: int | None = 100,
                   seed: int = 0, reason_chars: int | None = None, split: str = "test") -> dict[str, Any]:
    """template id -> the targets' USR, top text share, DIV, FMR against the held-out review (as the grid scores
    it; NaN where no review names a feature) and most repeated texts (`target_texts`); with `reason_chars`, as if
    every template allowed that many characters (how far a length limit holds the variety back). `split`
    "validation": on the validation pairs, where a change to the targets is tuned against the base model's figures
    (eval/grids/base-validation-gc.yaml) before the test pairs grade the adapter it trains."""
    heldout = load_heldout(dataset, data_dir, seed=seed, target=split)
    out: dict[str, Any] = {}
    for template_id in templates:
        made = paired_targets(heldout, template_id, limit, reason_chars=reason_chars)
        texts, failed = [text for _, text in made], len(heldout.pairs[:limit]) - len(made)
        features = [features_in(t, heldout.features) for t in texts]
        matched = [feature_match(f, features_in(heldout.review(pair), heldout.features))
                   for f, (pair, _) in zip(features, made)]
        matched = [m for m in matched if not math.isnan(m)]
        out[template_id] = {
            "pairs": len(texts), "no_target": failed, "usr": round(unique_sentence_ratio(texts), 3),
            "top_text_share": round(top_text_share(texts), 3), "div": round(feature_diversity(features), 3),
            "fmr": round(sum(matched) / len(matched), 3) if matched else math.nan,
            "most_repeated": [[n, text] for text, n in Counter(texts).most_common(3) if n > 1]}
    return out


def write(results: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=1, ensure_ascii=False) + "\n")
