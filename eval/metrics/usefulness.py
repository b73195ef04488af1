"""Usefulness of reasons (issue 16): a reason can be fully supported and still say nothing — the item's name, a
prompt echo, "Category: Gift Cards" (true of 146 of 148 items), the same sentence on every card. Faithfulness
metrics cannot see that; these can. The text detectors live in agent/text_quality.py, where the verifier uses
them too.

Examples are reasons (text, its claims, the item's title, the request) except for the distinctness metrics, whose
example is one ANSWER: the texts of all its reasons. `value_frequencies` comes from the context: the share of the
dataset's items that have each (key, value), computed once per dataset (`agent.text_quality.value_frequencies`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from itertools import combinations
from typing import Any

from agent.catalogue import normalise, squash
from agent.schemas import Claim
from agent.select import MAKER_EXCLUSIONS
from agent.sentences import every_pick_meets
from agent.text_quality import degenerate_kinds, is_vacuous, specificity, words
from agent.verify import facet_satisfied
from eval.metrics.registry import register
from index.models import Item

NAN = float("nan")
SIMILAR_JACCARD = 0.6
CONSTRAINT_KEYS = ("price_max", "price_min", "brand", "exclude_brand", "genre", "tag", "spec")


def _get(obj: Any, key: str) -> Any:
    return obj.get(key) if isinstance(obj, Mapping) else getattr(obj, key, None)


def cited_values(claims: Sequence[Any]) -> list[tuple[str, str]]:
    """The (attribute, value) pairs a reason cites as facts about items: attribute claims, and history claims
    that link a past item through a shared value. Request claims cite the shopper, not the catalogue."""
    return [(_get(c, "attribute"), _get(c, "value")) for c in claims
            if _get(c, "kind") in ("attribute", "history") and _get(c, "attribute") and _get(c, "value")]


@register("degenerate_rate", group="usefulness", higher_is_better=False,
          requires=("generated", "title", "request", "names"))
def degenerate(generated: str, title: str, request: str, names: Sequence[str]) -> float:
    """1 if the reason's text is degenerate in any way `agent.text_quality.degenerate_kinds` names (loop, title,
    prompt or request echo, repeated phrase, < 4 words, first-person story; `names`: the titles of the past items
    it cites), else 0. Mean = share. Range [0, 1]."""
    return float(bool(degenerate_kinds(generated, title, request, names)))


@register("vacuous_claim_share", group="usefulness", higher_is_better=False, requires=("claims", "value_frequencies"))
def vacuous_claim_share(claims: Sequence[Any], value_frequencies: Mapping[tuple[str, str], float]) -> float:
    """Cited values that at least half of the catalogue's items share / cited values (attribute and history-link
    claims). Range [0, 1]; NaN when the reason cites no item value."""
    cited = cited_values(claims)
    return sum(is_vacuous(value_frequencies, k, v) for k, v in cited) / len(cited) if cited else NAN


@register("claim_specificity", group="usefulness", higher_is_better=True, requires=("claims", "value_frequencies"))
def claim_specificity(claims: Sequence[Any], value_frequencies: Mapping[tuple[str, str], float]) -> float:
    """Mean IDF, log(N / df), of the cited values that some catalogue item has. Range [0, ln N] (ln 148 = 5.0 for
    Gift Cards); 0 = every item has it. NaN when the reason cites no value found in the catalogue."""
    idf = [s for k, v in cited_values(claims) if (s := specificity(value_frequencies, k, v)) is not None]
    return sum(idf) / len(idf) if idf else NAN


@register("model_written_share", group="usefulness", higher_is_better=True, requires=("fallback",))
def model_written(fallback: bool) -> float:
    """1 if the reason is shown as the model wrote it, 0 if it was rendered from verified claims (fallback).
    Mean = share of model-written reasons. Range [0, 1]."""
    return 0.0 if fallback else 1.0


@register("past_item_link_share", group="usefulness", higher_is_better=True,
          requires=("claims", "history_ids"))
def past_item_link(claims: Sequence[Any], history_ids: Sequence[str]) -> float:
    """1 if the reason links the pick to one of the shopper's past items (a history claim), else 0: how personal
    the reasons are. Mean = share. Range [0, 1]; NaN where the prompt showed no past item."""
    if not history_ids:
        return NAN
    return float(any(_get(c, "kind") == "history" for c in claims))


@register("disliked_history_rate", group="usefulness", higher_is_better=False,
          requires=("claims", "history_liked"))
def disliked_history(claims: Sequence[Any], history_liked: Mapping[str, bool]) -> float:
    """Of the reason's history claims ("like X, which you rated …"), the share citing a past item the shopper did
    not like (rated ≤ 3★, or a Steam game not recommended: `ValueStats.liked`); `history_liked` maps the
    shopper's past item ids to whether they liked it (an id it lacks counts as liked: an item they only named).
    Mean over reasons that cite a past item. Range [0, 1]; NaN when the reason cites none."""
    cited = [_get(c, "history_item_id") for c in claims if _get(c, "kind") == "history"]
    if not cited:
        return NAN
    return sum(not history_liked.get(i, True) for i in cited) / len(cited)


def pick_violations(item: Item, facets: Sequence[Any]) -> list[str]:
    """The hard constraints of the request that the picked item breaks: over (or under) the asked budget, no
    known price when a budget was asked, a brand/genre/tag the shopper excluded, one they asked for missing.
    `facets` are `agent.understand.Facet`s or dicts with key and value; `exclude_<key>` facets of any key count."""
    broken = []
    for facet in facets:
        key, value = _get(facet, "key"), str(_get(facet, "value"))
        if key in ("price_max", "price_min") and item.price is None:
            broken.append(f"no known price, but a budget was asked ({key} {value})")
        elif key in CONSTRAINT_KEYS or key in MAKER_EXCLUSIONS:  # "not Amazon" rules out the Amazon family
            ok, why = facet_satisfied(_FacetView(key, value), item, {})
            if not ok:
                broken.append(f"{key} {value}: {why}")
        elif isinstance(key, str) and key.startswith("exclude_"):
            attr = key.removeprefix("exclude_")
            if any(k == attr and normalise(v) == normalise(value) for k, v in item.attributes):
                broken.append(f"{key} {value}: the item has {attr} {value!r}")
    return broken


class _FacetView:
    """The two fields `facet_satisfied` reads, for facets given as plain dicts."""

    def __init__(self, key: str, value: str):
        self.key, self.value = key, value


def is_constraint(facet: Any) -> bool:
    key = _get(facet, "key")
    return key in CONSTRAINT_KEYS or (isinstance(key, str) and key.startswith("exclude_"))


@register("constraint_violation_rate", group="usefulness", higher_is_better=False, requires=("item", "facets"))
def constraint_violation(item: Item | None, facets: Sequence[Any]) -> float:
    """1 if the picked item breaks a hard constraint of the request (`pick_violations`), else 0. Mean = share of
    such picks. Range [0, 1]; NaN when the request set no constraint (or the item is unknown)."""
    constraints = [f for f in facets if is_constraint(f)]
    if item is None or not constraints:
        return NAN
    return float(bool(pick_violations(item, constraints)))


def met_wishes(item: Item, facets: Sequence[Any]) -> list[tuple[str, str]]:
    """The (key, value) of what the shopper asked for that the item has and a reason can say: a value (tag Horror,
    brand Starbucks, packaging tin) or an occasion; not a budget or an exclusion, which every pick meets, nor "like
    <a past item>", which needs the shopper's history to check."""
    wanted = [(_get(f, "key"), str(_get(f, "value"))) for f in facets]
    return [(k, v) for k, v in wanted if isinstance(k, str) and k != "like_item"
            and not every_pick_meets(Claim(kind="request", attribute=k, value=v))
            and facet_satisfied(_FacetView(k, v), item, {})[0]]


@register("asked_fact_share", group="usefulness", higher_is_better=True, requires=("claims", "item", "facets"))
def asked_fact(claims: Sequence[Any], item: Item | None, facets: Sequence[Any]) -> float:
    """1 if the reason cites something the shopper asked for that the pick has (as a met request, or as the item's
    own value: "is tagged Horror, as you asked"), else 0. Mean = share of reasons that say how a pick meets the
    request, of the picks that meet one (`met_wishes`). Range [0, 1]; NaN when the pick meets nothing that was
    asked. Read it beside USR and top text: a hard request is met by every pick of an answer, so one trick (lead every
    reason with it) reaches 1.0 and repeats the answer's own chips ("It sits in the Action genre, as you asked." was
    11 of 100 short Steam reasons of v16)."""
    met = {(k, squash(v)) for k, v in met_wishes(item, facets)} if item is not None else set()
    if not met:
        return NAN
    cited = {(_get(c, "attribute"), squash(str(_get(c, "value") or ""))) for c in claims}
    return float(bool(met & cited))


def jaccard(a: str, b: str) -> float:
    """|words(a) ∩ words(b)| / |words(a) ∪ words(b)|; 1.0 for two empty texts. Range [0, 1]."""
    x, y = set(words(a)), set(words(b))
    return len(x & y) / len(x | y) if x | y else 1.0


def _same(a: str, b: str) -> bool:
    return " ".join(words(a)) == " ".join(words(b)) and not re.fullmatch(r"\s*", a)


@register("identical_reasons_rate", group="usefulness", higher_is_better=False, requires=("answer_texts",))
def identical_reasons(answer_texts: Sequence[str]) -> float:
    """Per answer: 1 if two of its reasons are the same text (case, spacing and punctuation ignored), else 0.
    Mean = share of answers with a repeated reason. Range [0, 1]; NaN for answers with fewer than 2 reasons."""
    if len(answer_texts) < 2:
        return NAN
    return float(any(_same(a, b) for a, b in combinations(answer_texts, 2)))


@register("similar_reasons_rate", group="usefulness", higher_is_better=False, requires=("answer_texts",))
def similar_reasons(answer_texts: Sequence[str]) -> float:
    """Per answer: pairs of reasons with token Jaccard ≥ 0.6 / pairs of reasons. Mean over answers. Range [0, 1];
    NaN for answers with fewer than 2 reasons."""
    pairs = list(combinations(answer_texts, 2))
    if not pairs:
        return NAN
    return sum(jaccard(a, b) >= SIMILAR_JACCARD for a, b in pairs) / len(pairs)


def answer_metric_names() -> tuple[str, ...]:
    return ("identical_reasons_rate", "similar_reasons_rate")
