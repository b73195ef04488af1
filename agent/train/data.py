"""Training examples for the explain step, in the chain's OWN format: the same template render of
`prompt_inputs(request, Handles([item], ...), 0, position)` (one prompt per candidate, as the chain sends it), and
a target that fits the same reply model (`reply_model`) (compact JSON {"claims": [...], "text": "..."}, as the
grammar decodes it).

How each part of an example is derived (all choices seeded; nothing is written by a model):

Gift Cards (amazon2018_gift_cards, real users). For every held-in interaction (u, i) — an item in
`split.history[u]`, so no test or validation pair of `index/split.py` is ever used — :
  - request: a shopper-style message built from FACTS of item i, never from the review: "a gift card" and 0-2 of
    "from {brand}", "under ${bucket}" (bucket = the smallest of _PRICE_BUCKETS >= price), "for {the occasion i is
    made for}", "in a {packaging}", "I can send by email" (`gift_request`). It is parsed by the real
    `understand()`; the facets it yields are the request handles r1...
    With a history, OPEN_SHARE of the requests ask for nothing in particular (OPEN_REQUESTS: no facets).
  - history: u's items before i in the split's order, most recent first, with u's real ratings (h1...).
  - candidate: i.
  - target claims of i, at most TARGET_CLAIMS (2), in this order of preference:
      0. the liked past item sharing i's rarest value, whatever the request (the personal reason a shopper with a
         history gets: "shares its packaging gift box with your Plaid Gift Box (you rated it 5★)"), unless that
         value is in i's own title, or the reason is a short one and the value thin (a price, a maker): then it
         is one of the specific facts of 2. (a short one's last); sharing no specific value with any liked past
         item, or only a price, the liked past item whose having it tells most of i ("is also the choice of 4
         shoppers who had your IHOP card (you rated it 5★)", counted from the held-in interactions without u:
         `Shoppers`), else the price ("shares its price $50.00 with your Applebee's card (you rated it 5★)"),
         never first;
      1. the attribute handles of i whose VALUES u's real review talks about (`review_mentions`): the brand named
         in the review; a gift amount or price equal to an amount the review states ("$50", "50 dollars");
         a feature bullet sharing a content word with the review (occasion words are mapped first: "xmas" ->
         christmas/holiday, "bday" -> birthday); at most two, of those that tell i apart (`tells_apart`: not a
         price, nor a value LEAD_SHARE of the catalogue shares);
      2. then the chain's own choice of the most specific facts (`fallback_claims`): the rarest values of i, a
         liked past item sharing i's rarest value, the request facets i meets; beside a link through a shared
         trait, the values the linked past item has too come last (`Handles.linked_has`: "shares its tag Crafting with your
         Stranded Deep" goes on with what that game lacks, not "is tagged Survival"). No value most of the catalogue
         shares is ever offered as a handle, so none can be a target ("Category: Gift Cards" is gone).
    On a later card of its answer (`position` past 0) what the shopper asked for comes last: the first card says
    it, the others what sets them apart (every pick meets it, and the chat shows it as a constraint chip).
    A quoted listing bullet or a cut past-item title ("…") that would make a two-fact sentence longer than
    PAIRED_LONG_CHARS leaves the fact chosen first alone (`_long_pair`).
    A review that names nothing of i still gives an example (its claims are the specific facts alone).
Steam (steam, real users: `user_reviews_flat`, a review is 1.0 recommended / 0.0 not). For the latest
  `per_user` held-in games of a seeded sample of users (index/split.py's Steam split; test and validation pairs
  never used), those the user recommended: the request names 1-2 of the game's genres/tags/specs (as for the
  catalogue below), the history is the user's earlier games with their verdicts, and the claims are ordered as
  above (the review's values when the sample has its text). The personal link is the recommended past game that
  shares the game's rarest tag, genre or developer ("shares its tag Online Co-Op with PAYDAY 2, which you
  recommended").
Health & Personal Care and Steam (catalogues without users): for a seeded sample of items, a request naming 1-2 of
  the item's own shown values (H&PC: diet type, flavor, item form; Steam: genres, tags, specs), plus a price bucket
  and sometimes its brand ("vegan chocolate powder under $30", "a co-op action game under $20"). The target
  claims of that item are the attribute handles whose values the request names, then its most specific facts as
  above (the request facets it meets among them). No history (there are no users).
Every target text is the chain's own fallback sentence for its claims (`compose_reason`), in the sentence plan of
  the card's position in its answer (`position`, seeded; the prompt shows it as "Candidate 3", so the model can
  learn it, and the five cards of a chat answer open five ways), the next plan when that one runs past the
  template's `reason_max_chars` — a rendering of facts, never text posing as a review. A claim is left out when no
  plan fits it, the sentence would not say it (one value is said once), or the text fails the verifier's text
  check.
Every target claim is checked with `verify_claim` and every text with the `TextChecker`; a failure raises.

The data hash is sha256 over the rendered prompts and completions of all examples, in order.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from langchain_core.messages import BaseMessage

from agent.catalogue import THIN, Catalogue, ValueStats, normalise, squash
from agent.explain import (
    Handles,
    compose_reason,
    fallback_claims,
    prompt_inputs,
    reply_model,
)
from agent.occasions import made_for
from agent.schemas import TOGETHER, Claim, PastItem
from agent.sentences import Sentence, seeded_index
from agent.understand import Request, understand
from agent.verify import Evidence, TextChecker, states, verify_claim
from index.models import Dataset, Interaction, Item
from index.split import Split, get_split, held_out_pairs, known_interactions
from prompts.loader import Template

GIFT = "amazon2018_gift_cards"
HPC = "amazon2023_health_personal_care_meta"
STEAM = "steam"

# A shopper with a history often asks for nothing in particular. Without such examples the adapter learned that
# every request has a facet and wrote "…, as you asked" of nothing (23 of its rejected replies in
# eval/runs/adapter-20261201T195827Z-43f717a2). A share of 0.5, with examples spread over every explain template,
# did worse (README, "Faithfulness": whyrec-reasons-v3). The grid's own message is left out, so the grid stays a
# test of what the adapter makes of a request it never saw.
OPEN_REQUESTS = ("what should I get next?", "recommend me something", "any suggestions for me?",
                 "something I'd like, based on what I've had before", "pick something for me",
                 "what would you recommend for me?")
OPEN_SHARE = 0.35  # of user examples with a history
_PRICE_BUCKETS = (10, 15, 20, 25, 30, 40, 50, 75, 100, 150, 200, 300, 500)
_OCCASIONS = {"xmas": "christmas", "bday": "birthday", "holidays": "holiday", "christmas": "holiday",
              "bdays": "birthday", "wedding": "wedding", "graduation": "graduation"}
# Words too generic to show that a review talks about one particular feature bullet.
_GENERIC = set(["gift", "gifts", "card", "cards", "great", "good", "nice", "love", "loved", "loves", "perfect", "easy", "this", "that", "with", "have", "from", "your", "will", "they", "were", "them", "their", "very", "would", "been", "just", "like", "also", "more", "what", "when", "which", "there", "then", "than", "here", "give", "given", "gave", "giving", "bought", "buying", "purchase", "purchased", "order", "ordered", "recipient", "received", "receive", "always", "really", "well", "thank", "thanks", "product", "item", "items", "amazon", "five", "stars", "star", "work", "works", "worked", "time", "every", "much", "many", "some", "only", "other", "about", "after", "before", "could", "should", "because", "still", "into", "over", "being", "best", "better", "make", "made", "used", "using", "need", "needs", "into", "want", "wanted", "enough", "excellent", "awesome", "happy", "friend", "friends", "family", "daughter", "son", "mother", "father"])
_AMOUNT = re.compile(r"\$\s?(\d+(?:\.\d{1,2})?)|(\d+(?:\.\d{1,2})?)\s?(?:dollars?|bucks|usd)\b", re.IGNORECASE)


@dataclass
class Example:
    """One training (or evaluation) example: the chain's prompt and the target reply for it."""

    dataset: str
    user_id: str | None
    item_id: str  # the item the target's evidence is about (the reviewed item, or the item the request fits)
    request: Request
    handles: Handles
    messages: list[BaseMessage]
    target: dict[str, list[str] | str]  # {"claims": [...], "text": "..."}
    template: Template  # the explain template the prompt and target were made for
    position: int = 0  # the card's place in its answer, as the prompt shows it (0: the first)
    review_handles: list[str] = field(default_factory=list)  # a-handles of the item that its review talks about

    @property
    def completion(self) -> str:
        """The reply as the grammar decodes it: compact JSON, keys in schema order."""
        return json.dumps(self.target, separators=(",", ":"), ensure_ascii=False)


@dataclass
class Built:
    examples: list[Example]
    counts: Counter[str]
    data_hash: str
    validation: list[Example] = field(default_factory=list)  # validation pairs: for eval loss, never trained on


# ---------------------------------------------------------------- review -> attribute handles

def _words(text: str) -> set[str]:
    words = set()
    for w in normalise(text).split():
        w = _OCCASIONS.get(w, w)
        words.add(w[:-1] if len(w) > 4 and w.endswith("s") else w)
    return words


def _amounts(text: str) -> set[float]:
    return {float(a or b) for a, b in _AMOUNT.findall(text)}


def _names(text: str, value: str) -> bool:
    """Does `text` name `value` as whole words ('Cold Stone' counts once squashed: 'coldstone')?"""
    target = squash(value)
    words = normalise(text).split()
    return len(target) >= 3 and any("".join(words[i:j]) == target
                                    for i in range(len(words)) for j in range(i + 1, min(i + 5, len(words)) + 1))


def review_mentions(review: str, item: Item, shown: list[tuple[str, str]]) -> list[str]:
    """The a-handles (of `shown`, the item's attributes as the prompt lists them) whose values the review
    talks about. Rules in the module docstring; brand words never make a feature bullet count."""
    found: list[str] = []
    review_words = _words(review) - _GENERIC
    brand_words = {w for b in item.values("brand") for w in _words(b)}
    amounts = _amounts(review)
    says_gift_card = bool(re.search(r"gift\s?cards?\b", review, re.IGNORECASE))
    for j, (key, value) in enumerate(shown):
        handle = f"a{j + 1}"
        if key == "brand":
            hit = _names(review, value)
        elif key in ("gift_amount", "price"):
            hit = any(abs(a - float(n)) < 0.005 for a in amounts for n in re.findall(r"\d+(?:\.\d+)?", value))
        elif key == "category":
            hit = says_gift_card and "gift card" in value.lower()
        elif key == "feature":
            hit = bool((review_words & {w for w in _words(value) if len(w) >= 4}) - brand_words)
        else:
            hit = _names(review, value)
        if hit:
            found.append(handle)
    return found


# ---------------------------------------------------------------- requests from item facts

def price_bucket(price: float | None) -> int | None:
    if price is None or price <= 0:
        return None
    return next((b for b in _PRICE_BUCKETS if b >= price), None)


# The occasions an item is made for (agent/occasions.py) as a shopper names them, where understand() reads them.
_OCCASION_WORDS = {"birthday": "a birthday", "christmas": "Christmas", "valentine": "Valentine's Day",
                   "mothers_day": "Mother's Day", "fathers_day": "Father's Day", "graduation": "a graduation",
                   "wedding": "a wedding", "baby": "a baby shower", "thank_you": "a thank you",
                   "anniversary": "an anniversary", "housewarming": "a housewarming", "retirement": "a retirement"}


def gift_request(item: Item, rng: random.Random) -> str:
    """"a gift card" and 0-2 of what the card meets that a chat asks for: its brand, a budget, the occasion it is
    made for, its packaging, e-mail delivery. Without the last three, the adapter had never seen an occasion
    handle and echoed "a1:" for 7 of 15 chat cards ("a birthday gift card under $50")."""
    wants = [f"from {brand}"] if (brand := item.first("brand")) else []
    wants += [f"under ${bucket}"] if (bucket := price_bucket(item.price)) else []
    wants += [f"for {_OCCASION_WORDS[o]}" for o in sorted(made_for(item)) if o in _OCCASION_WORDS][:1]
    wants += [f"in a {packaging}"] if (packaging := item.first("packaging")) else []
    wants += ["I can send by email"] if item.first("delivery") == "e-mail" else []
    picked = rng.sample(wants, min(len(wants), rng.choice((0, 1, 1, 2))))
    return " ".join(["a gift card", *sorted(picked, key=wants.index)])


def catalogue_request(item: Item, shown: list[tuple[str, str]], keys: tuple[str, ...], noun: str,
                      rng: random.Random) -> tuple[str, list[str]] | None:
    """A request naming 1-2 of the item's shown values among `keys` (+ price bucket, sometimes brand);
    returns (message, the named values) or None when the item has none of those values."""
    values = [v for k, v in shown if k in keys and 2 < len(v) <= 30]
    if not values:
        return None
    named = rng.sample(values, min(len(values), rng.choice((1, 2))))
    parts = [" ".join(v.lower() for v in named), noun]
    if (bucket := price_bucket(item.price)) and rng.random() < 0.7:
        parts.append(f"under ${bucket}")
    if (brand := item.first("brand")) and rng.random() < 0.3:
        parts.append(f"from {brand}")
    return " ".join(parts), named


# ---------------------------------------------------------------- targets

LEAD_SHARE = 0.1  # a review's value shared by this share of the catalogue does not lead a target (`tells_apart`)
TARGET_CLAIMS = 2  # the sentence plans state the two most specific facts (agent/sentences.py)
ANSWER_CARDS = 5  # an example's card is shown at one of the first ANSWER_CARDS places of an answer (settings `k`)
PAIRED_LONG_CHARS = 110  # a two-fact sentence with a quote or a cut title ends at its first fact past this


class TargetBuilder:
    """Targets for one catalogue. With several explain templates, each example is made for one of them, chosen by
    a hash of its seed, within that template's limits (explain_terse: 60 characters, two claims)."""

    def __init__(self, catalogue: Catalogue, templates: Sequence[Template]):
        assert templates, "at least one template"
        self.catalogue = catalogue
        self.templates = list(templates)
        self.checker = TextChecker(catalogue.vocabulary)

    def template_for(self, seed: str) -> Template:
        return self.templates[seeded_index(seed, len(self.templates))]

    def fit(self, claims: list[Claim], handles: Handles, request: Request, template: Template,
            position: int = 0) -> tuple[list[str], str]:
        """The first `TARGET_CLAIMS` claims (in priority order) that render, together, as a sentence the chain
        would show: within the template's length, passing the text check, every claim verified. Returns (handles,
        text); raises ValueError when no claim fits."""
        gen = template.generation
        by_handle = {h: handles.to_claim(0, h) for h in handles.claim_handles(0)}
        past_by_id = {p.item.item_id: p for p in handles.history}
        item = handles.candidates[0]
        evidence = Evidence(item=item, history={p.item.item_id: p.item for p in handles.history},
                            facets=request.facets, message=request.message, stats=handles.stats)
        chosen: list[str] = []
        said: set[str] = set()  # values chosen already: "from Amazon, as you asked" + brand Amazon is one fact
        for claim in claims:
            handle = next((h for h, c in by_handle.items() if _same_claim(c, claim)), None)
            if handle is None or handle in chosen or len(chosen) >= min(TARGET_CLAIMS, gen.max_claims):
                continue
            if claim.kind != "history" and claim.value and squash(claim.value) in said:
                continue
            verdict = verify_claim(by_handle[handle], evidence)
            assert verdict.verdict == "supported", f"target claim fails the verifier: {verdict}"
            trial = [by_handle[h] for h in chosen + [handle]]
            sentence = self.sentence(trial, past_by_id, handles, request, gen.reason_max_chars, position)
            text = sentence.text
            # the text check can flag a true value (an item value 'Cherry, Grape' holds vocabulary words
            # 'Cherry' and 'Grape'): such a claim is left out rather than taught as a text the chain would reject
            # a target lists only the claims its sentence states: a claim left unsaid would teach citing facts the
            # sentence never mentions (the renderer says one value once, so a past item sharing the brand the
            # shopper asked for is not said beside "is from Amazon, as you asked")
            if len(trial) > 1 and _long_pair(text):
                break  # the fact chosen first stands alone
            if (len(sentence.claims) == len(trial) and len(text) <= gen.reason_max_chars
                    and all(states(text, c, evidence) for c in trial)
                    and not self.checker.problems(text, trial, evidence)):
                chosen.append(handle)
                said.add(squash(claim.value or ""))
        if not chosen:
            raise ValueError("no claim fits")
        final = [by_handle[h] for h in chosen]
        return chosen, self.sentence(final, past_by_id, handles, request, gen.reason_max_chars, position).text

    def tells_apart(self, claim: Claim) -> bool:
        """Whether a value the review talks about leads the target: not a price (the card's tag shows it, and "$25"
        is in many reviews) nor a value LEAD_SHARE of the catalogue shares ("comes from Amazon", of a fifth of the
        Gift Cards, was said of 11 held-out cards by v15, 6 by the fallback); these keep their place among the
        specific facts."""
        return claim.attribute != "price" and self.catalogue.stats.share(claim.attribute or "", claim.value or "") < LEAD_SHARE

    @staticmethod
    def sentence(claims: list[Claim], past_by_id: dict[str, PastItem], handles: Handles, request: Request,
                 max_chars: int, position: int = 0) -> Sentence:
        """The sentence the chain's own renderer writes for these claims, in the sentence plan of the card's
        `position` (the next one that fits `max_chars`), and the claims it states. Picked by what the prompt does
        not show (the item id) the plan was noise the model averaged ("A pick that …" on most replies of the first
        adapters); picked by the kinds of the facts, a Steam answer of five tag links opened "Worth a look:" five
        times (v22, 96 of 100 grid reasons). A later card's facts keep the renderer's first-card order, not the
        chain's later-card one (its own fact before what other shoppers chose): v29, taught that, fell under USR 0.90
        on Gift Cards terse, so v28's data stays (agent/adapters/HISTORY.md)."""
        item = handles.candidates[0]
        return compose_reason(claims, past_by_id, request.facets, stats=handles.stats, seed=item.item_id,
                              title=item.title, message=request.message, max_chars=max_chars,
                              first_plan=position)

    def example(self, dataset: str, user_id: str | None, item: Item, request: Request, history: list[PastItem],
                named: list[Claim], max_attributes: int, review: str | None = None,
                stats: ValueStats | None = None, position: int | None = None) -> Example | str:
        """The example, or the reason it cannot be made. Claims, most telling first: the liked past item sharing
        the item's rarest value (the personal reason a shopper with a history gets); the values the shopper's
        review talks about, the values the request `named`, then the item's most specific facts and the request
        facets it meets (`fallback_claims`: no value most of the catalogue shares is ever among them); on a later
        card of its answer (`position` past 0), what the shopper asked for last."""
        seed = f"{dataset}:{user_id}:{item.item_id}"
        template = self.template_for(seed)
        position = seeded_position(seed) if position is None else position
        handles = Handles([item], history, request.facets, max_attributes, stats=stats or self.catalogue.stats,
                          reason_max_chars=template.generation.reason_max_chars)
        mentioned = review_mentions(review, item, handles.attributes[0]) if review is not None else []
        # handles never offer a value most of the catalogue shares, so neither the review's nor the request's can be
        specific = fallback_claims(handles, 0, limit=len(handles.claim_handles(0)))
        # personal first, whatever was asked; but a link through a value the pick's own title says ("shares its
        # packaging tin with your Santa Tin" of a Snowflake Tin) keeps its place among the specific facts (a common
        # one, "shares its brand Amazon with …" of an Amazon.com card, is never offered: Handles.shared)
        linked = [c for c in (handles.to_claim(0, f"h{j + 1}") for j in handles.citable_history(0)[:1])
                  if c.attribute == TOGETHER or squash(c.value or "") not in squash(item.title)]
        # never led by a link through a price ("It shares its price $50.00 with your Applebee's card (you rated it
        # 5★)." was a whole default target: any $50 card costs that); a short reason, with room for one fact, by
        # no thin value (a price, a maker: THIN) ("… its price $25.00 with your Starbucks Gift Card." was the
        # commonest target of all)
        weak = _thin_link if handles.short else _price_link
        linked = [c for c in linked if not weak(c)]
        specific = sorted(specific, key=weak)  # stable: the others keep their order
        # beside "shares its tag Crafting with your Stranded Deep", what that game lacks, not "is tagged Survival"
        # which it has too (Steam's targets said "is tagged FPS" of CS:GO beside every FPS game they linked); the
        # prompt offers them in that order (stable: the rest keep their order)
        specific = sorted(specific, key=lambda c: c.kind == "attribute" and handles.linked_has(
            0, c.attribute or "", c.value or "") and not handles.asks_for(c))
        said_in_review = [c for c in (handles.to_claim(0, h) for h in mentioned) if self.tells_apart(c)][:2]
        # a short reason says first what the shopper asked for ("It is tagged Racing, as you asked, and …"): led by
        # the link, v24 said it on 10 of 100 asked Steam terse reasons (the base model's fallback 99)
        asked = [c for c in specific if handles.says_asked(c)] if handles.short else []
        lead = asked + linked + said_in_review + named
        if position > 0:
            # but a later card of the answer says what sets it apart, what was asked last: every pick meets it (the
            # chat shows it as a constraint chip), and v26, taught "as you asked" on every card, wrote "It is tagged
            # Co-op, as you asked, and also Survival." on nearly every card of an asked Steam answer
            lead = [c for c in lead if not handles.says_asked(c)]
            specific = sorted(specific, key=lambda c: (weak(c), handles.says_asked(c)))  # a price link last
        try:
            chosen, text = self.fit(lead + specific, handles, request, template, position)
        except ValueError:
            return "no_claim_fits_the_text_limit"
        reply_model(handles, template, 0).model_validate({"claims": chosen, "text": text})  # decodable target
        messages = template.render(**prompt_inputs(request, handles, 0, position))
        return Example(dataset, user_id, item.item_id, request, handles, messages,
                       {"claims": chosen, "text": text}, template, position, [h for h in mentioned if h in chosen])


def seeded_position(seed: str) -> int:
    """The card's place in its answer, 0 to ANSWER_CARDS - 1, by a hash of the example's seed."""
    return seeded_index(f"position:{seed}", ANSWER_CARDS)


def _long_pair(text: str) -> bool:
    """A sentence of two facts that quotes a listing bullet or a cut past-item title ("…") and runs past
    PAIRED_LONG_CHARS: the target keeps its first fact alone. v19, taught quotes and long titles beside a link,
    wrote longer ones than any target and ran past the token cap (agent/adapters/HISTORY.md); a shorter fact in
    the quote's place was most often the brand the card's title says."""
    return ("“" in text or "…" in text) and len(text) > PAIRED_LONG_CHARS


def _thin_link(claim: Claim) -> bool:
    """A link to a past item through a thin value (a price, a maker: agent/catalogue.THIN)."""
    return claim.kind == "history" and (claim.attribute or "") in THIN


def _price_link(claim: Claim) -> bool:
    """A link to a past item through its price alone."""
    return claim.kind == "history" and claim.attribute == "price"


def _same_claim(a: Claim, b: Claim) -> bool:
    return a.fact == b.fact


# ---------------------------------------------------------------- per dataset

@dataclass
class Shape:
    """How big an example's prompt may be (the chain's own limits are the upper bounds)."""

    max_history: int = 8
    max_attributes: int = 12


class Shoppers:
    """A catalogue with real users (Gift Cards, Steam) and each user's latest review per item: makes one example per
    (user, item). The request is built from the item's facts (`request_for`), never from the review."""

    def __init__(self, dataset: Dataset, templates: Sequence[Template], shape: Shape, seed: int,
                 known: list[Interaction] | None = None):
        """`known`: the interactions the catalogue's counts come from (the split's held-in ones, so no held-out pair
        reaches a prompt: "the choice of 4 shoppers who had …"); default every interaction."""
        self.name = dataset.name
        self.catalogue = Catalogue(dataset if known is None else dataset.model_copy(update={"interactions": known}))
        self.counted = {(i.user_id, i.item_id) for i in (dataset.interactions if known is None else known)}
        self.builder = TargetBuilder(self.catalogue, templates)
        self.shape, self.seed = shape, seed
        self.latest: dict[tuple[str, str], Interaction] = {}
        for it in dataset.interactions:
            key = (it.user_id, it.item_id)
            if key not in self.latest or it.timestamp > self.latest[key].timestamp:
                self.latest[key] = it

    def example(self, user_id: str, item_id: str, earlier: list[str]) -> Example | str:
        """(user, item) with `earlier` (the user's items before it, oldest first) as history."""
        rng = random.Random(f"{self.seed}:{user_id}:{item_id}")
        item = self.catalogue.get(item_id)
        if item is None:
            return "item_not_in_catalogue"
        history = [PastItem(item=self.catalogue.get(p), rating=self.latest[(user_id, p)].rating)
                   for p in reversed(earlier) if self.catalogue.get(p) is not None][: self.shape.max_history]
        if history and rng.random() < OPEN_SHARE:
            made = rng.choice(OPEN_REQUESTS), []
        else:
            made = self.request_for(item, rng)
        if made is None:
            return "item_has_no_requestable_value"
        message, named = made
        named_claims = [Claim(kind="attribute", attribute=k, value=v) for k, v in item.attributes if v in named]
        # a shopper whose pair the counts hold is one of "the 4 shoppers who had …" of their own example
        stats = self.catalogue.stats
        if (user_id, item_id) in self.counted:
            stats = stats.others_than_the_shopper()
        return self.builder.example(self.name, user_id, item, understand(message, self.catalogue), history,
                                    named_claims, self.shape.max_attributes,
                                    review=self.latest[(user_id, item_id)].review or None, stats=stats)

    def request_for(self, item: Item, rng: random.Random) -> tuple[str, list[str]] | None:
        return request_for(self.catalogue, item, rng, self.shape.max_attributes)


def request_for(catalogue: Catalogue, item: Item, rng: random.Random,
                max_attributes: int = 12) -> tuple[str, list[str]] | None:
    """A shopper's message that asks for what `item` has (`gift_request`, `catalogue_request`) and the values it
    names; None when the item has nothing such a message could name."""
    if catalogue.name == GIFT:
        return gift_request(item, rng), []
    shown = Handles([item], [], [], max_attributes, stats=catalogue.stats).attributes[0]
    keys, noun = _CATALOGUE_REQUESTS[catalogue.name]
    return catalogue_request(item, shown, keys, noun or _noun(item), rng)


def user_examples(shoppers: Shoppers, split: Split, counts: Counter[str], users: int | None = None,
                  per_user: int | None = None) -> list[Example]:
    """Examples of held-in interactions (see the module docstring): of every user, or of a seeded sample of
    `users`, each with up to `per_user` of their latest held-in items (the ones with the most history before
    them). An item the user did not recommend (Steam rating 0.0) is no example: the chain never offers it."""
    held_out = held_out_pairs(split)
    chosen = sorted(split.history)
    if users is not None and users < len(chosen):
        chosen = sorted(random.Random(f"{shoppers.seed}:{shoppers.name}:users").sample(chosen, users))
    examples = []
    for user_id in chosen:
        items = split.history[user_id]
        for j in range(len(items))[-per_user if per_user else 0:]:
            item_id = items[j]
            assert (user_id, item_id) not in held_out, "the split put a held-out pair in history"
            if shoppers.name == STEAM and shoppers.latest[(user_id, item_id)].rating != 1.0:
                counts[f"{shoppers.name} users: not_recommended"] += 1
                continue
            made = shoppers.example(user_id, item_id, items[:j])
            if isinstance(made, str):
                counts[f"{shoppers.name} users: {made}"] += 1
                continue
            examples.append(made)
    counts[f"{shoppers.name} users: examples"] = len(examples)
    return examples


def held_out_examples(shoppers: Shoppers, split: Split, which: str = "test", limit: int | None = None) -> list[Example]:
    """Examples for the held-out pairs, for evaluation only: history is what the split lets a model know
    (for test: history + the validation item). Kept even when the review names no attribute."""
    pairs = split.test if which == "test" else split.validation
    val_item = {p.user_id: p.item_id for p in split.validation}
    examples = []
    for pair in pairs[:limit]:
        earlier = list(split.history[pair.user_id]) + ([val_item[pair.user_id]] if which == "test" else [])
        made = shoppers.example(pair.user_id, pair.item_id, earlier)
        if isinstance(made, Example):
            examples.append(made)
    return examples


_CATALOGUE_REQUESTS = {
    # dataset: (keys the request names, the noun of the request)
    HPC: (("diet_type", "flavor", "item_form"), ""),
    STEAM: (("genre", "tag", "spec"), "game"),
}


def catalogue_examples(dataset: Dataset, templates: Sequence[Template], shape: Shape, seed: int, n: int,
                       counts: Counter[str]) -> list[Example]:
    """`n` examples from a catalogue without users: the request names the item's own values (module docstring)."""
    keys, noun = _CATALOGUE_REQUESTS[dataset.name]
    catalogue = Catalogue(dataset)
    builder = TargetBuilder(catalogue, templates)
    order = sorted(catalogue.items.values(), key=lambda x: x.item_id)
    random.Random(f"{seed}:{dataset.name}:order").shuffle(order)
    examples = []
    for item in order:
        if len(examples) >= n:
            break
        rng = random.Random(f"{seed}:{dataset.name}:{item.item_id}")
        shown = Handles([item], [], [], shape.max_attributes, stats=catalogue.stats).attributes[0]
        made_request = catalogue_request(item, shown, keys, noun or _noun(item), rng)
        if made_request is None:
            counts[f"{dataset.name} catalogue: item_has_no_requestable_value"] += 1
            continue
        message, named = made_request
        request = understand(message, catalogue)
        named_claims = [Claim(kind="attribute", attribute=k, value=v) for k, v in item.attributes if k in keys and v in named]
        made = builder.example(dataset.name, None, item, request, [], named_claims, shape.max_attributes)
        if isinstance(made, str):
            counts[f"{dataset.name} catalogue: {made}"] += 1
            continue
        examples.append(made)
    counts[f"{dataset.name} catalogue: examples"] = len(examples)
    return examples


def _noun(item: Item) -> str:
    """H&PC: the item form names the thing ('powder'); otherwise a neutral noun."""
    return "" if item.first("item_form") else "product"


# ---------------------------------------------------------------- everything

def data_hash(examples: list[Example]) -> str:
    h = hashlib.sha256()
    for ex in examples:
        for m in ex.messages:
            h.update(m.type.encode() + b"\0" + str(m.content).encode() + b"\0")
        h.update(ex.completion.encode() + b"\n")
    return h.hexdigest()


def build_examples(data_dir: Path, templates: Sequence[Template], *, seed: int = 0, shape: Shape | None = None,
                   n_catalogue: int = 300, steam_users: int = 400, per_user: int = 3, n_validation: int = 16,
                   split_seed: int = 0) -> tuple[Built, list[Split]]:
    """All training examples: every usable held-in Gift Cards interaction; the latest `per_user` held-in games of
    a seeded sample of `steam_users` Steam users (0: none; the 32k-game catalogue is then not loaded); `n_catalogue`
    each from the H&PC and Steam catalogues (0: none); shuffled with `seed`. Also `n_validation` examples of each
    user dataset's validation pairs, for an eval loss. Returns them with the splits they respect."""
    from index.loaders import load_dataset

    shape = shape or Shape()
    counts: Counter[str] = Counter()
    examples, validation, splits = [], [], []
    for name, users, limit in ((GIFT, None, None), (STEAM, steam_users, per_user)):
        if users == 0:
            continue
        data = load_dataset(name, data_dir)
        split = get_split(data, data_dir, seed=split_seed)
        shoppers = Shoppers(data, templates, shape, seed, known=known_interactions(data, split, "validation"))
        examples += user_examples(shoppers, split, counts, users, limit)
        validation += held_out_examples(shoppers, split, "validation", n_validation)
        splits.append(split)
        if name == STEAM and n_catalogue > 0:
            examples += catalogue_examples(data, templates, shape, seed, n_catalogue, counts)
    if n_catalogue > 0:
        examples += catalogue_examples(load_dataset(HPC, data_dir), templates, shape, seed, n_catalogue, counts)
        if steam_users == 0:
            examples += catalogue_examples(load_dataset(STEAM, data_dir), templates, shape, seed, n_catalogue, counts)
    random.Random(f"{seed}:shuffle").shuffle(examples)
    return Built(examples, counts, data_hash(examples), validation), splits
