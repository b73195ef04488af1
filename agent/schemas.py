"""The answer whyrec returns: ranked items, reasons made of claims, each claim with its verifier verdict."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, Field

from index.models import Item

ClaimKind = Literal["attribute", "history", "request"]
Verdict = Literal["supported", "unsupported", "unchecked"]


# A history claim's attribute when the pick and the past item share no trait but other shoppers had both: its value
# is how many ("is also the choice of 4 shoppers who had your Wendy's card"; agent/catalogue.py ValueStats.together)
TOGETHER = "chosen_with"


class Claim(BaseModel):
    """One atomic, checkable statement behind a reason.

    attribute: the item has `attribute` = `value`.
    history:   the user's past item `history_item_id` shares `attribute` = `value` (or is simply cited) .
    request:   the item satisfies the request facet `attribute` (e.g. price_max) = `value` (e.g. "50").
    """

    kind: ClaimKind
    attribute: str | None = None
    value: str | None = None
    history_item_id: str | None = None
    verdict: Verdict = "unchecked"
    why: str | None = Field(None, description="the verifier's reason for its verdict")

    @property
    def fact(self) -> tuple[str, str | None, str | None, str | None]:
        """What the claim states, whatever its verdict: two claims with one fact say the same thing."""
        return (self.kind, self.attribute, self.value, self.history_item_id)


class Reason(BaseModel):
    text: str
    claims: list[Claim] = Field(default_factory=list, description="verified claims: the only ones shown as fact")
    unverified: list[Claim] = Field(default_factory=list, description="claims the verifier rejected, kept for audit")
    fallback: bool = Field(False, description="text rendered from verified claims because the model's text failed")


class Quote(BaseModel):
    """One short verbatim sentence from a real review of the item (never the shopper's own): evidence in a
    shopper's voice, shown labelled and attributed, never verified as a fact nor used to state one (agent/quotes.py)."""

    text: str
    review_id: str = Field(description="the review in the data: '<reviewer id>/<item id>'")
    rating: float | None = None
    attribution: str = Field("a review", description="how the card attributes it: 'a 5★ review'")


class Recommendation(BaseModel):
    item_id: str
    title: str = ""
    rank: int
    score: float
    price: float | None = None
    attributes: list[tuple[str, str]] = Field(default_factory=list, description="key attributes shown on the card")
    reasons: list[Reason] = Field(default_factory=list)
    quote: Quote | None = Field(None, description="a review sentence chosen for the request; evidence, not a claim")


class Provenance(BaseModel):
    """Enough to reproduce or audit an answer (STYLE.md: provenance on every result)."""

    template_id: str
    template_version: str
    prompt_hash: str
    backend: str
    model: str
    adapter: str | None = None
    dataset: str
    index_snapshot: str
    git_commit: str


class ActiveConstraint(BaseModel):
    """One constraint in force for this answer, as a removable chip shows it."""

    key: str
    value: str
    label: str = Field(description="how the shopper would say it: 'under $50', 'not Amazon'")


class Relaxation(BaseModel):
    """A constraint this answer did not fully apply, and how: never silent."""

    key: str
    value: str
    label: str
    how: str = Field(description="what was done instead, in the shopper's words")
    item_ids: list[str] = Field(default_factory=list, description="the picks shown under this relaxation")


class Answer(BaseModel):
    user_id: str | None
    message: str
    recommendations: list[Recommendation]
    notes: list[str] = Field(default_factory=list, description="cold start, relaxed filters, LLM fallback, …")
    provenance: Provenance | None = None
    timings_ms: dict[str, float] = Field(default_factory=dict)
    llm_usage: dict[str, float | None] = Field(default_factory=dict, description="prompt/completion tokens, "
                                               "first_token_s and decode tokens_per_s of the explain call")
    constraints: list[ActiveConstraint] = Field(default_factory=list, description="active after this turn")
    relaxed: list[Relaxation] = Field(default_factory=list, description="constraints not fully applied, and how")
    conversation_id: str | None = Field(None, description="pass it back to continue this conversation")


@dataclass
class PastItem:
    """One of the shopper's past items as the chain reads it: what it is, how they rated it, and whether they only
    named it in this chat (then it is "you mentioned", never "your history")."""

    item: Item
    rating: float | None = None
    mentioned: bool = False
