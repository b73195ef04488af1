"""The verifier: every claim and every reason text is re-checked against the item's real attributes, this user's
real history and the request, whatever the decoder was told (a server can ignore a schema).

Pure functions; the verdict of a claim is deterministic (STYLE.md #6)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from agent.catalogue import MIN_TOGETHER, ValueStats, normalise, squash
from agent.occasions import made_for, occasions_in
from agent.schemas import TOGETHER, Claim, Reason
from agent.select import MAKER_EXCLUSIONS, MAKERS, meets
from agent.sentences import clip_title, every_pick_meets, short_name
from agent.text_checks import blank_titles, claims_problems, degenerate_problems, says_together, together_problems
from agent.text_quality import rating_is_reason
from agent.understand import Facet
from index.attributes import SHARED
from index.models import Item

_MONEY_IN_TEXT = re.compile(r"\$\s?(\d+(?:,\d{3})*(?:\.\d{1,2})?)")
# where a sentence ends: a full stop (or ! ?), maybe a closing quote, space, a capital (`idle_sentences` blanks
# quotes and titles first: their full stops end no sentence)
_SENTENCE_END = re.compile(r"(?<=[.!?])[”\"')]?\s+(?=[A-Z“\"])")
_PERCENT_IN_TEXT = re.compile(r"(\d+(?:\.\d+)?)\s?(?:%|per ?cent\b)", re.I)
_HANDLE = re.compile(r"\b(?:[ahr]\d+|C\d+)\b")
_MARKUP = re.compile(r"</?\w+[^>]*>|<\|")
_SAYS_FREE = re.compile(r"\bfree\b(?!\s+(?:shipping|delivery))", re.I)
_SHIPS_FREE = re.compile(r"\bships?\s+(?:for\s+)?free\b", re.I)
# "Gluten Free", "GMO-free", "Sugar Free": a compound says what the item lacks, not what it costs.
_COMPOUND_FREE = re.compile(r"\b(?!(?:is|it|its|it's|s|for|are|be|was|were|totally|completely|entirely|absolutely|"
                            r"100|get|got|and|or|a|the|play|set|feel|go|for)\b)[A-Za-z][\w']*[- ]free\b", re.I)

@dataclass
class Evidence:
    """What a reason about `item` may rest on: the item, this user's history (and items they named), the request."""

    item: Item
    history: dict[str, Item] = field(default_factory=dict)
    facets: list[Facet] = field(default_factory=list)
    message: str = ""
    other_titles: list[str] = field(default_factory=list)  # the answer's other items: never this one's reason
    ratings: dict[str, float | None] = field(default_factory=dict)  # past item id -> the shopper's rating
    stats: ValueStats | None = None  # value frequencies and rating scale: vacuous links and disliked items fail


def _same(a: str | None, b: str | None) -> bool:
    return a is not None and b is not None and a.strip().casefold() == b.strip().casefold()


def has_attribute(item: Item, key: str | None, value: str | None) -> bool:
    return any(_same(k, key) and _same(v, value) for k, v in item.attributes)


def shared_attribute(item: Item, other: Item, stats: ValueStats | None = None,
                     skip: frozenset[tuple[str, str]] = frozenset()) -> tuple[str, str] | None:
    """The (key, value) both items have that says the most: with `stats`, the rarest in the catalogue (a thin one,
    a price or a maker, last) and never one most items share (every gift card is a "Gift Cards" one); without, the
    first by most telling key. `skip`: (key, casefolded value) pairs not to link through."""
    theirs = {(k, v.casefold()) for k, v in other.attributes}
    shared = [(k, v) for key in SHARED for k, v in item.attributes
              if k == key and (k, v.casefold()) in theirs and (k, v.casefold()) not in skip]
    if stats is None:
        return shared[0] if shared else None
    specific = [kv for kv in shared if not stats.vacuous(*kv)]
    return min(specific, key=lambda kv: stats.telling_share(*kv)) if specific else None


def facet_satisfied(facet: Facet, item: Item, history: dict[str, Item],
                    stats: ValueStats | None = None) -> tuple[bool, str]:
    """Does the item meet what the shopper asked for? Returns (ok, why). With `stats`, "like <title>" needs a
    specific shared value (every gift card shares "Gift Cards" with every other)."""
    price = item.price
    # a $50.00 card fits a shopper's "under $50" budget (the picks allow it: agent/select.meets), but "is under $50,
    # as you asked" would not be true of it; "at most $50" would
    strict = getattr(facet, "label", "").startswith(("under ", "over "))
    match facet.key:
        case "price_max":
            limit = float(facet.value)
            ok = price is not None and (price < limit - 1e-9 if strict else price <= limit + 1e-9)
            return ok, f"price {price} vs max {facet.value}"
        case "price_min":
            limit = float(facet.value)
            ok = price is not None and (price > limit + 1e-9 if strict else price >= limit - 1e-9)
            return ok, f"price {price} vs min {facet.value}"
        case "brand":
            return has_attribute(item, "brand", facet.value), f"brand {item.first('brand')!r}"
        case key if key in MAKER_EXCLUSIONS:  # as the picks were chosen (agent/select.py): the title counts,
            # and a maker family under any maker key ('not Amazon': brand 'Amazon Basics', manufacturer 'Amazon.com')
            makers = {k: item.values(k) for k in MAKERS if item.values(k)}
            return bool(meets(facet, item)), f"makers {makers} and title {item.title[:60]!r}"
        case "genre" | "tag" | "spec" | "flavor" | "item_form" | "diet_type" | "delivery" | "packaging":
            return has_attribute(item, facet.key, facet.value), f"{facet.key} {facet.value!r} on the item"
        case key if key.startswith("exclude_"):  # "not Strategy", "no Gummy": the item lacks that value
            attribute = key.removeprefix("exclude_")
            return not has_attribute(item, attribute, facet.value), f"{attribute} {item.values(attribute)}"
        case "occasion":  # made for the occasion named: its title or a feature bullet says so ("Birthday Tin")
            wanted, marked = occasions_in(facet.value), made_for(item)
            return bool(wanted & marked), f"made for {sorted(marked) or 'no named occasion'}"
        case "like_item":
            named = next((h for h in history.values() if _same(h.title, facet.value)), None)
            shared = shared_attribute(item, named, stats) if named else None
            return shared is not None, f"shares {shared} with {facet.value!r}" if shared else "nothing shared"
    return False, f"unknown facet {facet.key}"


def verify_claim(claim: Claim, evidence: Evidence) -> Claim:
    """Return the claim with its verdict and the reason for it."""
    item = evidence.item
    if claim.kind == "attribute":
        ok = has_attribute(item, claim.attribute, claim.value)
        why = "in the item's metadata" if ok else f"item has no {claim.attribute}={claim.value!r}"
        if ok and not rating_is_reason(item, claim.attribute, claim.value):
            ok, why = False, f"a low or thin rating ({claim.attribute} {claim.value}) is no reason to buy"
    elif claim.kind == "history":
        past = evidence.history.get(claim.history_item_id or "")
        rating = evidence.ratings.get(claim.history_item_id or "")
        stats = evidence.stats
        if past is None:
            ok, why = False, "not in this user's history"
        elif stats is not None and not stats.liked(rating):
            ok, why = False, f"the shopper did not like it ({stats.rating_words(rating)})"
        elif claim.attribute == TOGETHER:  # "the choice of 4 shoppers who had your X": the count, exactly
            n = stats.together(item.item_id, past.item_id) if stats is not None else 0
            ok = n >= MIN_TOGETHER and claim.value == str(n)
            why = f"{n} other shoppers had both" + ("" if ok else f", not {claim.value} (at least {MIN_TOGETHER})")
        elif stats is not None and (claim.attribute is None or stats.vacuous(claim.attribute, claim.value or "")):
            ok, why = False, "shares nothing specific with it (a value most of the catalogue has)"
        elif claim.attribute is None:
            ok, why = True, "in this user's history"
        else:
            ok = has_attribute(past, claim.attribute, claim.value) and has_attribute(item, claim.attribute, claim.value)
            why = "shared by the item and the past item" if ok else f"{claim.attribute}={claim.value!r} not shared"
    else:  # request
        facet = next((f for f in evidence.facets if f.key == claim.attribute and _same(f.value, claim.value)), None)
        if facet is None:
            ok, why = False, "the shopper did not ask for this"
        else:
            ok, why = facet_satisfied(facet, item, evidence.history, evidence.stats)
    return claim.model_copy(update={"verdict": "supported" if ok else "unsupported", "why": why})


class TextChecker:
    """Finds values a reason's text states that nothing supports: prices, and catalogue vocabulary (brands,
    genres, tags, …) that the item, the cited history items and the request do not have."""

    def __init__(self, vocabulary: dict[str, set[str]], max_chars: int | None = None):
        self.max_chars = max_chars  # the schema's maxLength: a text that long with no full stop was cut off
        self._vocab: dict[str, tuple[str, str]] = {}
        self._n_words: dict[str, int] = {}  # how many words the value has: "and is" is not the brand "Andis"
        for key, values in vocabulary.items():  # Catalogue.vocabulary: the vocabulary and requested keys
            for value in values:
                s = squash(value)
                if len(s) >= 4:
                    self._vocab.setdefault(s, (key, value))
                    self._n_words.setdefault(s, len(normalise(value).split()))
        self._checked = frozenset(self._vocab)

    def problems(self, text: str, claims: list[Claim], evidence: Evidence) -> list[str]:
        sources = [evidence.item] + [evidence.history[c.history_item_id] for c in claims
                                     if c.kind == "history" and c.history_item_id in evidence.history]
        # a value like "Cherry, Grape" supports "Cherry" and "Grape" too
        allowed_values = {squash(part) for src in sources for _, v in src.attributes for part in [v, *v.split(",")]}
        allowed_text = " ".join([normalise(src.title) for src in sources] + [normalise(evidence.message)]
                                + [normalise(f.value) for f in evidence.facets])
        allowed_squashed = allowed_text.replace(" ", "")
        # A brand is stated only as the item's (or a cited past item's) brand attribute, or as the shopper asked:
        # a title is free text from the data, and "… made by Starbucks" in a poisoned title must not make it a fact.
        request_squashed = "".join([squash(evidence.message)] + [squash(f.value) for f in evidence.facets])
        # ... or inside the name of a cited past item: "like IHOP Coffee Gift Cards, which you rated 5★" names it
        cited_titles = "".join(squash(src.title) for src in sources[1:])
        found: list[str] = []

        prices = {round(p, 2) for src in sources if (p := src.price) is not None}
        prices |= {round(float(f.value), 2) for f in evidence.facets if f.key in ("price_max", "price_min")}
        # Not every number in the message: "…the price is $0" typed by the shopper (or pasted from elsewhere) is not
        # a fact about the item. The prices the shopper asked for are already in the facets above.
        for _, v in evidence.item.attributes:
            prices |= {round(float(m), 2) for m in re.findall(r"\d+(?:\.\d+)?", v.replace(",", ""))}
        for m in _MONEY_IN_TEXT.finditer(text):
            amount = round(float(m.group(1).replace(",", "")), 2)
            if amount not in prices:
                found.append(f"states price ${m.group(1)} which the item and request do not support")

        # A share ("a 25% discount", "90% off" when the shopper's message asks for it) is a claim like a price: only
        # one the listing states is said. The base model gave Ruby Tuesday's card "a 5% discount" it does not have.
        percents = {m.group(1) for src in sources for _, v in src.attributes for m in _PERCENT_IN_TEXT.finditer(v)}
        for m in _PERCENT_IN_TEXT.finditer(text):
            if m.group(1) not in percents:
                found.append(f"states {m.group(0)}, which the item's listing does not")

        if len(re.findall(r"[A-Za-z]{2,}", text)) < 3 or _HANDLE.search(text) or _MARKUP.search(text):
            found.append("is not a sentence a shopper can read (too short, prompt handles or markup)")
        elif claims and not any(states(text, c, evidence) for c in claims):
            found.append("states none of the facts it cites (a copied instruction or filler is not a reason)")
        own_title = normalise(evidence.item.title)
        for title in evidence.other_titles:
            if (other := normalise(title)) and other in normalise(text) and other not in own_title:
                found.append(f"names another item, {title!r}")
        # "free" is a price claim: only a price of 0 supports it. Free text in the data (a feature saying "free",
        # perhaps planted) does not; shipping is the one harmless exception.
        # A genre or tag the item has ("Free to Play") is a value, not a price claim; a feature bullet is free text.
        unpriced = text
        for k, v in evidence.item.attributes:
            if k != "feature" and "free" in v.casefold():
                unpriced = re.sub(re.escape(v), " ", unpriced, flags=re.I)
        if _SAYS_FREE.search(_COMPOUND_FREE.sub("", _SHIPS_FREE.sub("", unpriced))) and evidence.item.price != 0:
            found.append("says free, but the item has a price")

        words = normalise(text).split()
        covered = _covered(words, [v for src in sources for _, v in src.attributes] + [f.value for f in evidence.facets])
        for i in range(len(words)):
            for j in range(i + 1, min(i + 4, len(words)) + 1):
                gram = "".join(words[i:j])
                # a word inside a value the item has ("Games" in "Dovetail Games") states that value, not another;
                # a run of several words names a value of as many words ("and is" is not "Andis")
                if covered & set(range(i, j)) or (j - i > 1 and self._n_words.get(gram) != j - i):
                    continue
                if gram in self._vocab and gram not in allowed_values and gram not in allowed_squashed:
                    key, value = self._vocab[gram]
                    found.append(f"states {key} {value!r} which the item does not have")
                elif (gram in self._vocab and self._vocab[gram][0] == "brand" and gram not in allowed_values
                      and gram not in request_squashed and gram not in cited_titles):
                    key, value = self._vocab[gram]
                    found.append(f"states {key} {value!r} which the item does not have")
        found += degenerate_problems(text, evidence.item.title, evidence.message, self.max_chars,
                                     [src.title for src in sources[1:]])
        found += claims_problems(text, sources, evidence.message, evidence.facets, self._checked)
        found += together_problems(text, sources, evidence.stats)
        return sorted(set(found))


def _covered(words: list[str], values: list[str]) -> set[int]:
    """Positions of `words` that lie inside a run equal to one of `values` (or a comma part of one), normalised."""
    covered: set[int] = set()
    for value in values:
        for part in [value, *value.split(",")]:
            want = normalise(part).split()
            n = len(want)
            if not n:
                continue
            for i in range(len(words) - n + 1):
                if words[i:i + n] == want:
                    covered.update(range(i, i + n))
    return covered


def states(text: str, claim: Claim, evidence: Evidence) -> bool:
    """Does the text name the fact behind `claim`: its value (any comma part, or the same number), or for a history
    claim the past item's title or brand (and, for what other shoppers chose, their count said as such)?"""
    if claim.attribute == TOGETHER and not says_together(text, claim.value or ""):
        return False
    said = squash(text)
    numbers = {round(float(n), 2) for n in re.findall(r"\d+(?:\.\d+)?", text.replace(",", ""))}
    values = [claim.value or ""]
    if claim.kind == "history" and (past := evidence.history.get(claim.history_item_id or "")):
        values += [past.title, *past.values("brand")]
    spoken = f" {normalise(text)} "
    for value in values:
        parts = [p for p in [value, *value.split(",")] if len(squash(p)) >= 3]
        if any(squash(p) in said for p in parts):
            return True
        # a two-letter value ("VR", "2D") is stated as a word of its own, never inside another ("overview")
        if len(squash(value)) == 2 and f" {normalise(value)} " in spoken:
            return True
        if numbers & {round(float(n), 2) for n in re.findall(r"\d+(?:\.\d+)?", value.replace(",", ""))}:
            return True
    return False


def verify_reason(reason: Reason, evidence: Evidence, checker: TextChecker,
                  offered: Sequence[Claim] = ()) -> tuple[list[Claim], list[Claim], list[str]]:
    """(claims the sentence states, unsupported cited claims, text problems) of one reason.

    A card shows what its sentence says, so its claims are the facts the sentence states: the cited claims it
    states, plus any fact the prompt offered for this item (`offered`: its attributes, past-item links and met
    requests) that it states without citing — "tagged Funny and offers Online Co-op" while citing genre Indie, a
    link to a past item named by its title while citing the brand; each fact once, a value said inside a longer one
    not as its own. A cited fact the sentence does not state is dropped, not shown. A
    sentence that states none of its item's facts is still rejected."""
    checked = [verify_claim(c, evidence) for c in reason.claims]
    supported = [c for c in checked if c.verdict == "supported"]
    unsupported = [c for c in checked if c.verdict != "supported"]
    # the cited facts, then the offered ones, each read longest value first in what the longer ones leave:
    # "offers Online Co-op" states Online Co-op, not also the tag Co-op inside it
    facts = [(True, c) for c in supported] + [(False, c) for c in offered]
    known: set[tuple] = set()
    said: dict[int, Claim] = {}
    unsaid = reason.text  # the text without the values read so far
    for n, (cited, claim) in sorted(enumerate(facts), key=lambda nc: -len(nc[1][1].value or "")):
        text = reason.text if claim.kind == "history" else unsaid
        if _fact(claim) not in known and (states if cited else _names)(text, claim, evidence):
            said[n] = claim if cited else verify_claim(claim, evidence)
            known |= _facts(claim)
            unsaid = _without_value(unsaid, claim)
    stated = [said[n] for n in sorted(said) if said[n].verdict == "supported"]
    # a cited past item's title is a name, not the sentence saying a value: "shares its brand Amazon with
    # Amazon.com Gift Card in a Santa Tin" says Amazon once
    cited = [evidence.history[c.history_item_id] for c in stated
             if c.kind == "history" and c.history_item_id in evidence.history]
    problems = checker.problems(reason.text, stated or supported, evidence) + said_twice(
        blank_titles(reason.text, cited), stated)
    # "It is like Terraria, as you asked." (the base model, first card of "something like Terraria but co-op") is
    # verified by a shared trait it does not say: with nothing else it tells the shopper nothing of this pick
    if stated and all(every_pick_meets(c) or _likeness_only(c, reason.text, evidence) for c in stated):
        problems.append("says only what every pick meets (the budget, a ruled-out maker, being like the item named), "
                        "nothing of this item")
    if stated and (idle := idle_sentences(reason.text, stated, evidence, [evidence.item, *cited])):
        problems.append(f"a sentence says none of its facts (filler, or a story no data supports): {idle[0]!r}")
    return stated, unsupported, problems


def named_as_like(item: Item, facets: Sequence[Facet]) -> bool:
    """Whether `item` is the one the shopper asked for something like ("something like Terraria")."""
    return any(f.key == "like_item" and squash(f.value) == squash(item.title) for f in facets)


def _likeness_only(claim: Claim, text: str, evidence: Evidence) -> bool:
    """The pick is like the item the shopper named: the met request, or a link to that item (named in the shopper's
    history) whose shared trait the text does not say."""
    if claim.kind == "request":
        return claim.attribute == "like_item"
    past = evidence.history.get(claim.history_item_id or "")
    return bool(past and named_as_like(past, evidence.facets) and squash(claim.value or "") not in squash(text))


def idle_sentences(text: str, claims: Sequence[Claim], evidence: Evidence, titled: list[Item]) -> list[str]:
    """The sentences of a reason that state none of its `claims`. The base model showed "It is offered in a $25
    amount. It is a gift card for the birthday of the person who made it." of a Birthday Cupcake Tin: the first
    sentence was checked, the second was a story nothing supports. A full stop in a quote or in the title of one of
    the `titled` items (the pick, the cited past items) ends none."""
    masked = re.sub(r"“[^”]*”", lambda m: " " * len(m.group(0)), blank_titles(text, titled))
    cuts = [m.end() for m in _SENTENCE_END.finditer(masked)]
    sentences = [text[a:b].strip() for a, b in zip([0, *cuts], [*cuts, len(text)])]
    return [s for s in sentences if s and not any(states(s, c, evidence) for c in claims)]


def _fact(claim: Claim) -> tuple:
    return claim.kind, claim.attribute, claim.value, claim.history_item_id


def _without_value(text: str, claim: Claim) -> str:
    """The text with the value an attribute or request claim states blanked out where it stands whole."""
    if claim.kind == "history" or not claim.value or len(claim.value) < 3:
        return text
    return re.sub(rf"(?<!\w){re.escape(claim.value)}(?!\w)", " ", text, flags=re.IGNORECASE)


def _facts(claim: Claim) -> set[tuple]:
    """The claim's fact, and its twin where it has one: a met request and the attribute that meets it are one fact
    ("a2: is tagged Horror, as you asked" and "r1: is tagged Horror, as you asked"), shown once."""
    twin = {"attribute": "request", "request": "attribute"}.get(claim.kind)
    return {_fact(claim)} | ({(twin, claim.attribute, claim.value, claim.history_item_id)} if twin else set())


def _names(text: str, claim: Claim, evidence: Evidence) -> bool:
    """Does the text state an offered fact it did not cite? A past item only by its name as a sentence says it (its
    brand alone is the pick's brand too); an attribute as `states` reads it."""
    if claim.kind != "history":
        return states(text, claim, evidence)
    past = evidence.history.get(claim.history_item_id or "")
    return past is not None and any(squash(name) in squash(text)
                                    for name in (clip_title(past.title), short_name(past.title)) if name)


def said_twice(text: str, claims: list[Claim]) -> list[str]:
    """"tagged RPG and sits in the RPG genre", "comes from SUBWAY and is from SUBWAY": one value said twice is one
    fact padded into two."""
    words, found = f" {normalise(text)} ", []
    # longest first, each masked once counted: "tagged Grand Strategy and sits in the Strategy genre" is two facts
    for value in sorted({normalise(c.value or "") for c in claims if c.kind == "attribute"}, key=len, reverse=True):
        if len(value) >= 3 and words.count(f" {value} ") > 1:
            found.append(f"states {value!r} twice")
        words = words.replace(f" {value} ", " | ")
    return found
