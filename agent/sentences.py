"""The fallback renderer's sentence plans: a short natural sentence from the two most specific verified claims.

Every fact becomes a verb phrase ("comes from Starbucks", "is tagged Roguelike", "shares its tag Roguelike with
your Hades (you recommended it)"), and a small fixed set of plans joins one or two of them:

    0  "It {a} and {b}."                 3  "Chosen because it {a} and {b}."
    1  "This one {a}, and it {b}."       4  "Picked for you: it {a} and {b}."
    2  "A pick that {a} and {b}."        5  "Worth a look: it {a} and {b}."

(a short reason, at most SHORT_REASON_CHARS, is only "It {a} and {b}." or "It {a}.", always with its most
specific fact, and names a past item without its rating: "It shares its tag Heist with your PAYDAY™ The Heist.").
A past item is named by its short name wherever it has one ("with your Santa Smile Tin (you rated it 5★)").

Two phrases of one verb are said once ("comes in Peppermint flavor and Paste form"). A met exclusion ("is not from
Starbucks, as you asked") is true of every pick: a card never cites one (`every_pick_meets`); in a "why this one?"
account it may follow a fact, never stand for the whole reason. The plan
is chosen by a hash of the seed (the item id), so the same card always reads the same, and then moved on until the
sentence differs from every reason already shown in the answer (token Jaccard < 0.5 and not equal); two facts are
said whenever the card has two (a familiar frame, Jaccard < 0.6, is accepted before dropping to one fact), and five
cards never repeat one sentence. `compose_sentence` returns the claims the sentence states, and the card shows
exactly those. Pure functions; the words come only from the claims' values."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from agent.schemas import TOGETHER, Claim, PastItem
from agent.select import MAKERS
from agent.text_quality import card_name, degenerate_kinds, squash, title_variant, without_parenthetical
from agent.understand import Facet
from agent.wording import PLAN_OPENINGS, PLANS_ONE, PLANS_TWO, VERB_PHRASES

if TYPE_CHECKING:
    from agent.catalogue import ValueStats

# A short reason (explain_terse's 80 characters) has no room for a frame: one bare plan each, so its length is the
# facts' (a model taught four frames there ran past the limit on a quarter of its replies and was cut mid-word).
SHORT_REASON_CHARS = 80
PLANS_SHORT_TWO, PLANS_SHORT_ONE = ("It {a} and {b}.",), ("It {a}.",)
# The longest name a reason gives a past item after "your" (a short one only where its link fits, `Handles._fits`):
# said with its rating a link never fitted a short reason, and every short reason of one item read the same whoever
# it was for. A longer title is not cut ("your Amazon.com Gift…" named none of ten tins): its variant or a store
# card's name ("your Carrabba's Italian Grill card") names it, or nothing does (`short_name`).
SHORT_TITLE_CHARS = 30
MAX_SIMILARITY = 0.5  # token Jaccard at or above this reads as the same reason
MAX_VALUE_CHARS = 40  # a longer value (other than a quoted feature bullet) makes a sentence nobody reads
ASKED = ", as you asked"  # ends a phrase of something the shopper asked for

def clip_title(title: str, limit: int = 48) -> str:
    """A past item's name short enough for a sentence: no parenthetical, cut at a word boundary (never mid-word)
    and marked as cut ("… Mini Amazon Shipping" read as a whole title, of a box)."""
    title = without_parenthetical(title)
    if len(title) <= limit:
        return title
    return title[:limit].rsplit(" ", 1)[0].rstrip(",;:-– ") + "…"


def quoted(line: str) -> str:
    """A listing line as a sentence quotes it: “Redemption: Instore and Online”."""
    return f"“{line.rstrip('.')}”"


def _attribute_phrase(claim: Claim) -> str:
    key, value = claim.attribute or "", claim.value or ""
    if key == "feature":  # a listing's own words, quoted: "Gift Card is affixed inside a pop-up card"
        return f"is listed as {quoted(value)}"
    if key == "flavor":
        if squash(value) in ("unflavored", "unflavoured", "unflavor", "flavorless", "noflavor"):
            return "is unflavored"
        return f"comes in {value}" if "flavor" in value.lower() else f"comes in {value} flavor"
    if key == "price" and squash(value) in ("free", "freetoplay"):  # a free game "costs Free" read as a glitch
        return "is free"
    if key == "spec" and value.lower().endswith(" available"):  # not "offers Captions available"
        return f"has {value[:1].lower()}{value[1:]}"
    if key == "spec" and value.lower().endswith(" enabled"):  # "has Valve Anti-Cheat enabled"
        return f"has {value}"
    if key == "spec" and value.lower().startswith("includes "):  # not "offers Includes level editor"
        return f"{value[:1].lower()}{value[1:]}"
    if key == "scent":  # "is unscented", "has an argan scent" (not "has a Unscented scent")
        if squash(value) in ("unscented", "fragrancefree", "scentfree", "nofragrance"):
            return f"is {value.lower()}"
        return f"has {'an' if value[:1].lower() in 'aeiou' else 'a'} {value} scent"
    pattern = VERB_PHRASES.get(key)
    # a raw key and value ("active_ingredients", "Vitamin_e") in words; the value squashes the same either way
    return pattern.format(v=value) if pattern else f"has {key.replace('_', ' ')} {value.replace('_', ' ')}"


def _request_phrase(claim: Claim, facets: list[Facet]) -> str:
    label = next((f.label for f in facets if f.key == claim.attribute and f.value == claim.value), claim.value or "")
    match claim.attribute:
        case "price_max" | "price_min":
            return f"is {label}, as you asked"
        case "brand":
            return f"is from {claim.value}, as you asked"
        case "exclude_brand" | "exclude_manufacturer" | "exclude_developer" | "exclude_publisher":
            return f"is not from {claim.value}, as you asked"
        case "like_item":
            return f"is like {clip_title(claim.value or '')}, as you asked"
        case "occasion":
            return f"is made for the occasion you named ({claim.value})"
        case key if key and key.startswith("exclude_"):
            return f"is not {claim.value}, as you asked"  # "is not Early Access", not "has no genre Early Access"
        case key if key in VERB_PHRASES or key == "flavor":  # an attribute value asked for: "is tagged Co-op, as you asked"
            return _attribute_phrase(claim) + ", as you asked"
    return f"has the {label} you asked for"


def _with_it(how: str) -> str:
    """"you rated 5★" -> "you rated it 5★", "you recommended" -> "you recommended it" (said of the past item)."""
    if how.startswith("you rated "):
        return how.replace("you rated ", "you rated it ", 1)
    return how + " it" if how.startswith("you ") else how


def _history_phrase(claim: Claim, history: dict[str, PastItem], stats: ValueStats | None,
                    short: bool = False) -> str | None:
    past = history.get(claim.history_item_id or "")
    if past is None or not claim.attribute:
        return None
    key = claim.attribute.replace("_", " ")
    if claim.attribute == TOGETHER:  # no trait in common: "the choice of 4 shoppers who had …"
        lead = f"is also the choice of {claim.value} shoppers who had"
        if short:  # "is chosen by 4 who had your IHOP card": 13 characters fewer leave a short reason room for a
            name = short_name(past.item.title)  # fact of the pick's own ("… and comes from Wendy's.")
            return f"is chosen by {claim.value} who had your {name}" if name else None
        return f"{lead} {_named(past, stats)}"
    name = short_name(past.item.title)
    # "has the same brand as your Panera Bread card", not "shares its brand Panera Bread with your Panera Bread
    # card": where the past item's name says its maker, saying it again is the sentence repeating itself (a tag
    # has many values: "shares its tag Heist with your PAYDAY™ The Heist" says which)
    lead = (f"has the same {key} as" if claim.attribute in MAKERS and name
            and squash(claim.value or "") in squash(name) else f"shares its {key} {claim.value} with")
    if short:  # "shares its tag Heist with your PAYDAY™ The Heist": "your" says whose, in a third of the words
        return f"{lead} your {name}" if name else None
    return f"{lead} {_named(past, stats)}"


def _named(past: PastItem, stats: ValueStats | None) -> str:
    """A past item as a full reason names it: "your Plaid Gift Box (you rated it 5★)"."""
    if past.mentioned:
        how = "you mentioned it"
    elif stats is not None:
        how = _with_it(stats.rating_words(past.rating))
    else:
        how = f"you rated it {past.rating:g}★" if past.rating is not None else "from your history"
    # "your Plaid Gift Box", not "Amazon.com Gift Card in a Plaid Gift Box" beside a pick that is one too: the words
    # that tell the shopper's item apart, in fewer tokens; a title with no short name is clipped. The rating in
    # brackets: "…, which you rated 5★ and costs $20" would read as the past item's price
    named = f"your {name}" if (name := short_name(past.item.title)) else clip_title(past.item.title)
    return f"{named} ({how})"


def fact_phrase(claim: Claim, history: dict[str, PastItem], facets: list[Facet],
                stats: ValueStats | None = None, short: bool = False) -> str | None:
    """The claim as a verb phrase that follows "it" ("comes from Starbucks"); None when it cannot be said. `short`:
    the words a short reason has room for (a past item as "your …" with no rating, only a short title)."""
    if claim.kind == "request":
        return _request_phrase(claim, facets)
    if claim.kind == "history":
        return _history_phrase(claim, history, stats, short)
    if not claim.value or (claim.attribute != "feature" and len(claim.value) > MAX_VALUE_CHARS):
        return None  # "Certified Organic, GMO Free, No Artificial Colors, Gluten Free, Vegan" is a list, not a trait
    if any(f.key == claim.attribute and squash(f.value) == squash(claim.value) for f in facets):
        return _attribute_phrase(claim) + ASKED  # its own value, and the shopper asked for it too
    return _attribute_phrase(claim)


def is_short(max_chars: int | None) -> bool:
    """Whether a reason of at most `max_chars` is a short one: bare plans, short links."""
    return max_chars is not None and max_chars <= SHORT_REASON_CHARS


def short_name(title: str) -> str | None:
    """A past item's title as a reason names it after "your": a store card's name ("IHOP Gift Cards, Multipack of 3"
    -> "IHOP cards"), else the title whole (no parenthetical), or the variant a long title ends on ("Amazon.com Gift
    Card in a Santa Smile Tin" -> "Santa Smile Tin"); None when none is short enough."""
    name = card_name(title) or without_parenthetical(title)
    if len(name) > SHORT_TITLE_CHARS and (variant := title_variant(name)):
        name = variant
    return name if len(name) <= SHORT_TITLE_CHARS else None


def tokens(text: str) -> set[str]:
    return set(re.findall(r"[a-z0-9]+", text.lower()))


def jaccard(a: str, b: str) -> float:
    ta, tb = tokens(a), tokens(b)
    return len(ta & tb) / len(ta | tb) if ta | tb else 1.0


# the plans' first words ("Picked for you: it"), longest first: what differs between two cards' frames
_OPENINGS = sorted(PLAN_OPENINGS, key=len, reverse=True)


def opening_of(text: str) -> str:
    """The plan opening a reason begins with ("Picked for you: it"), as PLAN_OPENINGS spells it; "" for none."""
    folded = text.strip().casefold()
    return next((o for o in _OPENINGS if folded.startswith(o.casefold() + " ")), "")


def same_but_opening(a: str, b: str) -> bool:
    """Whether two reasons say the same words but for their plans' openings: "It is tagged Horror, as you asked,
    and also VR." and "Picked for you: it is tagged Horror, as you asked, and also VR." read as one reason twice."""
    def body(text: str) -> list[str]:
        return re.findall(r"[a-z0-9]+", text.strip().casefold()[len(opening_of(text)):])
    return body(a) == body(b)


_FULL_STOP = re.compile(r"[.!?…][\"'”’)]*$")


def full_stopped(text: str) -> str:
    """The sentence with its full stop: a reply may close its text after a quoted listing line or a past item's
    "(you rated it 5★)" and stop there, whole but for the "." (the text checks pass it: it ends as a sentence may)."""
    text = text.rstrip()
    return text if not text or _FULL_STOP.search(text) else text.rstrip(",;:").rstrip() + "."


def seeded_index(seed: str, n: int) -> int:
    """A stable choice among n wordings, by seed (an item id): the same item reads the same, items differ."""
    return int.from_bytes(hashlib.sha256(seed.encode()).digest()[:4], "big") % n


def _same_value(a: str, b: str) -> bool:
    """One value under two keys, whatever its case or punctuation ("Ubisoft" and "UBISOFT", "Valve" and
    "Valve Corporation" are one maker said twice)."""
    sa, sb = squash(a), squash(b)
    return sa == sb or (min(len(sa), len(sb)) >= 4 and (sa.startswith(sb) or sb.startswith(sa)))


def is_exclusion(claim: Claim) -> bool:
    """A met exclusion ("is not from Starbucks, as you asked"): true of every pick, so never a reason on its own."""
    return claim.kind == "request" and (claim.attribute or "").startswith("exclude_")


def every_pick_meets(claim: Claim) -> bool:
    """A met budget or exclusion: the picks are filtered by it, so it says nothing of this item ("It is under $50,
    as you asked." was a whole reason of v12's; "… and is not from Amazon, as you asked" ended 8 of 20 cards of a
    four-turn chat with v13, where the budget and the maker are on every card's chips and price already)."""
    return claim.kind == "request" and (claim.attribute in ("price_max", "price_min") or is_exclusion(claim))


def shared_start(phrases: list[list[str]]) -> int:
    """How many first words verb phrases (as word lists) that share their first two have in common, leaving each
    at least one word of its own: "is tagged Mature", "is tagged RPG" -> 2."""
    n = 2
    while all(len(w) > n + 1 for w in phrases) and len({w[n] for w in phrases}) == 1:
        n += 1
    return n


def merged_phrase(a: Claim, pa: str, b: Claim, pb: str) -> str | None:
    """Two phrases of one verb said once: "comes in Peppermint flavor" + "comes in Paste form" -> "comes in
    Peppermint flavor and Paste form", "is tagged Mature" + "is tagged RPG" -> "is tagged Mature and RPG"; what was
    asked first, so "as you asked" stays with its value: "is tagged Story Rich, as you asked, and also Mature", or
    says it once of both: "is tagged Agriculture and Relaxing, as you asked". None when they do not share a verb, either
    quotes a bullet, the second would lose its noun ("comes in Softgel form and Unflavored"), or both state one
    value (an asked tag and the same tag as the item's own)."""
    if "“" in pa + pb or (a.value and b.value and _same_value(a.value, b.value)):
        return None
    both = pa.endswith(ASKED) and pb.endswith(ASKED)  # "is tagged Agriculture and Relaxing, as you asked"
    if both:
        pa, pb = pa.removesuffix(ASKED), pb.removesuffix(ASKED)
    elif pb.endswith(ASKED):
        a, pa, b, pb = b, pb, a, pa
    wa, wb = pa.removesuffix(ASKED).split(), pb.split()
    if wa[:2] != wb[:2]:
        return None
    n = shared_start([wa, wb])
    while n > 2 and wa[n - 1].lower() in ("the", "a", "an"):
        n -= 1  # "sits in the RPG genre and the Adventure genre"
    if a.attribute != b.attribute and min(len(wa), len(wb)) - n < 2:
        return None
    if both:
        return f"{pa} and {' '.join(wb[n:])}{ASKED}"
    # "is tagged Co-op, as you asked, and Zombies" read as a list of three: "also" says the last one was not asked
    return f"{pa}, and also {' '.join(wb[n:])}" if pa.endswith(ASKED) else f"{pa} and {' '.join(wb[n:])}"


Part = tuple[tuple[str, ...], tuple[Claim, ...]]  # the phrases a plan joins, and the claims they state


def _pairs(phrases: list[tuple[Claim, str]]) -> list[Part]:
    """What a sentence may say, best first: two facts, most specific first (a request phrase last, since
    ", as you asked" ends the sentence); then a fact and a met exclusion; then one fact. Never two request phrases
    (it would say "as you asked" twice) or one value twice (a shared flavor and the same flavor as an attribute);
    two phrases of one verb are merged. A met exclusion alone is no reason: a card with nothing else says so
    honestly (agent/explain.py NOTHING_SPECIFIC)."""
    facts = [(c, p) for c, p in phrases if not is_exclusion(c)]
    exclusions = [(c, p) for c, p in phrases if is_exclusion(c)][:1]
    two: list[Part] = []
    for i, (ca, a) in enumerate(facts):
        for cb, b in facts[i + 1:]:
            both_asked = a.endswith(ASKED) and b.endswith(ASKED)
            if ca.value and cb.value and _same_value(ca.value, cb.value):
                continue  # one value twice ("is made by Valve and is published by VALVE")
            if a.split()[:2] == b.split()[:2]:
                if merged := merged_phrase(ca, a, cb, b):
                    two.append(((merged,), (cb, ca) if cb.kind == "request" else (ca, cb)))
                continue
            if both_asked:
                continue  # "as you asked" twice
            two.append(((b, a), (cb, ca)) if a.endswith(ASKED) else ((a, b), (ca, cb)))
    with_exclusion: list[Part] = [((a, x), (ca, cx)) for ca, a in facts for cx, x in exclusions
                                  if ca.kind != "request"]
    return two + with_exclusion + [((p,), (c,)) for c, p in facts]


NEAR_DUPLICATE = 0.6  # token Jaccard at which the evaluation counts two reasons as near-duplicates


@dataclass(frozen=True)
class Sentence:
    """A rendered reason and exactly the claims its words state (what the card shows under it)."""

    text: str
    claims: list[Claim] = field(default_factory=list)


def compose_sentence(claims: list[Claim], history: dict[str, PastItem], facets: list[Facet], *,
                     stats: ValueStats | None = None, seed: str = "", avoid: list[str] | None = None,
                     title: str = "", message: str = "", max_chars: int | None = None,
                     first_plan: int | None = None, taken: frozenset[str] = frozenset()) -> Sentence:
    """One sentence from `claims` (most specific first) and the claims it states. Two facts whenever the card has
    two: the first pair and plan that is not degenerate text for the item `title` asked as `message`
    (agent/text_quality: "comes from Denny's and is listed as “Denny's is…”" says Denny's twice) and reads
    differently from every text in `avoid` (token Jaccard below MAX_SIMILARITY); failing that, the least similar
    pair unless it is a near-duplicate of a shown reason, then one fact. A plan that would run past `max_chars` is
    skipped like a degenerate one; a short reason has only the bare plans (PLANS_SHORT_*) and says the most
    specific claim, alone where no pair with it fits. `first_plan`: the plan to start from (a training target's: the
    card's position, which its prompt shows) instead of the seed's; plans opening with words in `taken` (other
    cards' openings) are tried last. Empty when no claim can be said."""
    said: dict[str, Claim] = {}  # one phrase once: a reply may cite one handle twice
    short = is_short(max_chars)
    for c in claims:
        if (p := fact_phrase(c, history, facets, stats, short)) and p not in said:
            said[p] = c
    phrases = [(c, p) for p, c in said.items()]
    phrases = [cp for cp in phrases if not is_exclusion(cp[0])][:4] + [cp for cp in phrases if is_exclusion(cp[0])]
    if not phrases:
        return Sentence("")
    avoid = [a for a in (avoid or []) if a]
    best, best_score = Sentence(""), 2.0
    parts = _pairs(phrases)
    stages = [[p for p in parts if len(p[1]) == 2], [p for p in parts if len(p[1]) == 1]]
    if short:  # room for one fact or two short ones: the most specific is said, alone if need be ("It shares its
        lead = phrases[0][0]  # tag Heist with your PAYDAY™ The Heist.", not two of the item's commoner tags)
        stages = [[p for p in stage if lead in p[1]] for stage in stages] + \
                 [[p for p in stage if lead not in p[1]] for stage in stages]
    for stage in stages:
        for said, stated in stage:
            if short:
                plans = PLANS_SHORT_TWO if len(said) == 2 else PLANS_SHORT_ONE
            else:
                plans = PLANS_TWO if len(said) == 2 else PLANS_ONE
            start = seeded_index(seed, len(plans)) if first_plan is None else first_plan % len(plans)
            turn = [(start + n) % len(plans) for n in range(len(plans))]  # PLANS_ONE/TWO open as PLAN_OPENINGS
            for plan in (plans[k] for k in sorted(turn, key=lambda k: PLAN_OPENINGS[k] in taken)):  # stable
                text = plan.format(a=said[0], b=said[1] if len(said) == 2 else "")
                if max_chars is not None and len(text) > max_chars:
                    continue
                names = [history[c.history_item_id].item.title for c in stated
                         if c.kind == "history" and c.history_item_id in history]
                if degenerate_kinds(text, title, message, names):
                    break  # the plan's wording does not change what repeats: try the next facts
                # the same words after another opening are the same reason ("A pick that comes from IHOP and costs
                # $30.00." then "Picked for you: it comes from IHOP and costs $30.00." for a pick shown again)
                score = max((1.0 if same_but_opening(t, text) else jaccard(t, text) for t in avoid), default=0.0)
                if score < MAX_SIMILARITY:
                    return Sentence(text, list(stated))
                if score < best_score:
                    best, best_score = Sentence(text, list(stated)), score
        if best.text and best_score < NEAR_DUPLICATE:
            return best  # two facts in a familiar frame beat one fact
    return best


def render_sentence(claims: list[Claim], history: dict[str, PastItem], facets: list[Facet], *,
                    stats: ValueStats | None = None, seed: str = "", avoid: list[str] | None = None,
                    title: str = "", message: str = "", max_chars: int | None = None) -> str:
    """The text of `compose_sentence`."""
    return compose_sentence(claims, history, facets, stats=stats, seed=seed, avoid=avoid, title=title,
                            message=message, max_chars=max_chars).text
