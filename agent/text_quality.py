"""Is a reason worth reading? Pure detectors of text that is true but useless (issue 16), shared by the verifier
(which rejects it) and the evaluation (which counts it), so both judge a reason by the same rules.

- `degenerate_kinds` names every way a reason's text is degenerate: loops, the item's own name, prompt echoes,
  the request repeated back, the same phrase twice, too few words, first-person stories no data supports.
- `value_frequencies` is the share of a catalogue's items that have each (key, value): a value that at least half
  the catalogue shares ("Gift Cards", Steam "Single-player") says nothing about THIS item.

Imports nothing from the verifier, so agent/verify.py can import it."""

from __future__ import annotations

import functools
import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence

from agent.wording import PLAN_WORDING
from index.models import Item

DEGENERATE_KINDS: dict[str, str] = {
    "repeated_ngram": "a 3-word phrase occurs twice (a repetition loop)",
    "repeated_phrase": "the same clause or two-word phrase twice",
    "title_only": "the item's own title (or a run of it) is most of the reason",
    "prompt_echo": "prompt words, handles, markup or an attribute line ('Category: …')",
    "request_echo": "the shopper's request repeated back",
    "too_short": "fewer than 4 words",
    "first_person": "first-person experience or a story the data cannot support",
    "glued_words": "two words of a sentence plan run together ('it islisted as')",
}
MIN_WORDS = 4


def normalise(text: str) -> str:
    """Lower-case alphanumerics only, words separated by one space: "Co-op" and "co op" both become "co op"."""
    return " ".join(re.findall(r"[a-z0-9]+", text.lower()))


def squash(text: str) -> str:
    """Like `normalise` without spaces, so "co-op", "coop" and "Co op" meet."""
    return normalise(text).replace(" ", "")


def without_parenthetical(title: str) -> str:
    """A title without its bracketed parts: "Amazon.com Gift Card in a Santa Tin (Ho! Ho! Ho! Card Design)" ->
    "Amazon.com Gift Card in a Santa Tin" (the title itself when it is all brackets)."""
    return re.sub(r"\s*[\(\[].*?[\)\]]", "", title).strip() or title

VACUOUS_SHARE = 0.5  # a value at least this share of the catalogue has is not a reason for any one item

# What the explain templates (prompts/explain_*.yaml) and agent/explain.py put around the data: echoing it back
# means the model copied the prompt instead of explaining.
# A reason talks to the shopper ("you asked"): "the shopper asked for a cheaper option" is the prompt's voice.
_PROMPT_WORDS = re.compile(
    r"shopper(?:'s|s)?\s+(?:request|past\s+items)|\bthe\s+shopper\b|reply\s+in\s+json"
    r"|claim\s+handles?|\b[ahr]-handles?\b|\bcandidate\s*:|\bmeets\s*:|\(nothing\s+specific\)", re.I)
_HANDLE = re.compile(r"\b(?:[ahr]\d{1,2}|C\d{1,2})\b|\[\s*[A-Za-z]\d{1,2}\s*\]")
# "A7 and A6 are tagged Sandbox and Singleplayer." (an adapter's reply): a handle in capitals, outside the title and
# quoted listing words, where a product may be called "A1"
_CAPITAL_HANDLE = re.compile(r"\b[AHR]\d{1,2}\b")
_QUOTE = re.compile(r"“[^”]*”|\"[^\"]*\"")
_PLACEHOLDER = re.compile(r"\[[a-z_ ]{2,30}\]")  # "[brand]", "[feature]"
_MARKUP = re.compile(r"</?[A-Za-z]\w*[^>]*>|<\||\{\s*\"|\"\w+\"\s*:")
# Attribute keys of the shipped datasets, as a data line writes them (the prompt's former "a3 category: …", a
# rendered "Category: Gift Cards"): a key with a colon is a data line, not a sentence.
_ATTRIBUTE_KEYS = (
    "brand", "price", "category", "genre", "tag", "spec", "developer", "publisher", "flavor", "item form",
    "material", "color", "diet type", "gift amount", "sentiment", "release year", "feature", "features",
    "item weight", "product dimensions", "package dimensions", "unit count", "number of items", "dosage form",
    "manufacturer", "average rating", "age range", "scent", "special feature", "early access", "metascore",
    "title", "date first available", "description", "rating", "handle", "handles", "claims", "text")
_ATTRIBUTE_LINE = re.compile(r"(?<![\w-])(?:" + "|".join(k.replace(" ", r"[ _]") for k in _ATTRIBUTE_KEYS)
                             + r")\s*:", re.I)
_FIRST_PERSON = re.compile(r"(?<![.\w])I(?:['’](?:ve|m|d|ll))?(?![\w.])"
                           r"|\b(?:me|my|mine|myself|we|we['’](?:ve|re|d|ll)|our|ours|ourselves)\b|\bus\b", re.I)
_STORY = re.compile(r"\bfor\s+(?:\d+|a\s+few|many|several|two|three|ten)\s+years\b|\byears\s+ago\b", re.I)
_STOPWORDS = frozenset("a an the and or of to in on for with at by from as is are was be it its this that you your "
                       "which who than like".split())


def words(text: str) -> list[str]:
    """Lower-case alphanumeric words ("Amazon.com" is two: amazon, com)."""
    return normalise(text).split()


def _ngrams(ws: list[str], n: int) -> list[tuple[str, ...]]:
    return [tuple(ws[i:i + n]) for i in range(len(ws) - n + 1)]


def longest_common_run(a: list[str], b: list[str]) -> int:
    """Length of the longest contiguous word sequence `a` and `b` share (dynamic programming, O(|a|·|b|))."""
    best, prev = 0, [0] * (len(b) + 1)
    for x in a:
        cur = [0] * (len(b) + 1)
        for j, y in enumerate(b, 1):
            if x == y:
                cur[j] = prev[j - 1] + 1
                best = max(best, cur[j])
        prev = cur
    return best


def mostly_copied(text_words: list[str], source: str, min_run: int) -> bool:
    """More than half of the reason's words are one contiguous run copied from `source`."""
    if not text_words or not source:
        return False
    run = longest_common_run(text_words, words(source))
    return run >= min_run and run > len(text_words) / 2


_CLAUSE_SPLIT = re.compile(r"[;,.!?()]|\band\b|\s[–—-]\s")


_OPEN_QUOTE = re.compile(r"[“\"][^”\"]*$")


def _repeated_phrase(text: str, ws: list[str], closed_only: bool = False) -> bool:
    """The same clause twice, the same content bigram twice outside quoted listing text (“Zaxby's gift cards are
    perfect …” and comes from Zaxby's names the brand twice, it does not loop), or a word twice in a row.
    `closed_only`: compare only clauses a delimiter has ended and quotes that are closed (the text is still being
    written)."""
    segments = _CLAUSE_SPLIT.split(text)
    clauses = [c for c in (" ".join(words(c)) for c in (segments[:-1] if closed_only else segments)) if c]
    if len(clauses) != len(set(clauses)):
        return True
    unquoted = _QUOTE.sub(" | ", _OPEN_QUOTE.sub("", text) if closed_only else text)
    content = [g for part in unquoted.split("|") for g in _ngrams(words(part), 2)
               if not (set(g) & _STOPWORDS) and g[0] != g[1]]
    return len(content) != len(set(content)) or any(a == b for a, b in _ngrams(ws, 2))


def _first_person(text: str, title: str, request: str) -> bool:
    """First-person words outside the item's title and the request (a title may be 'My Little Pony')."""
    for quoted in (title, request):
        if quoted.strip():
            text = re.sub(re.escape(quoted.strip()), " ", text, flags=re.I)
    found = [m.group(0) for m in _FIRST_PERSON.finditer(text)]
    # "US" in capitals is the country; "I" must be the capital pronoun, not "T.G.I." or a name's roman numeral
    found = [w for w in found if w != "US" and not (w.lower() == "i" and w != "I")]
    return bool(found) or bool(_STORY.search(text))


_VARIANT = re.compile(r"\bin (?:an? )?(\S+(?: \S+)+)$")  # "… in a Santa Smile Tin": two words at least


def title_variant(title: str) -> str | None:
    """The variant a title ends on ("Amazon.com Gift Card in a Plaid Gift Box" -> "Plaid Gift Box"), the name a
    short reason gives a past item ("your Plaid Gift Box"); None when it names none."""
    return m.group(1) if (m := _VARIANT.search(without_parenthetical(title))) else None


# What a store card's listing adds to the store's name ("Texas Roadhouse Gift Cards - E-mail Delivery", "IHOP Gift
# Cards, Multipack of 3", "P.F. Changs Gift Card $50"): a shopper calls the card "your Texas Roadhouse card"
_LISTING_TAIL = re.compile(r"(?:\s+-\s+(?:e-mail delivery|design may vary|in a gift box|limited edition)"
                           r"|,\s*(?:multi)?pack of \d+|\s+\$\d+(?:\.\d\d)?)\s*$", re.I)
_PACK = re.compile(r",\s*(?:multi)?pack of \d+", re.I)
_GIFT_CARD = re.compile(r"\s+gift cards?$", re.I)


def card_name(title: str) -> str | None:
    """A store card as its owner names it: "Carrabba's Italian Grill Gift Card" -> "Carrabba's Italian Grill card",
    "IHOP Gift Cards, Multipack of 3" -> "IHOP cards", "The Home Depot Gift Card" -> "Home Depot card", "Olive
    Garden - E-mail Delivery" -> "Olive Garden"; None when the title is no store card's listing (a game's
    "… - Soundtrack" keeps its name)."""
    name = without_parenthetical(title)
    while m := _LISTING_TAIL.search(name):
        name = name[: m.start()]
    if m := _GIFT_CARD.search(name):  # "your Cheesecake Factory card", not "your The Cheesecake Factory card"
        name = re.sub(r"^The\s+", "", name[: m.start()]) + (" cards" if _PACK.search(title) else " card")
    return name if name != without_parenthetical(title) else None


def name_spans(text: str, names: Sequence[str]) -> list[tuple[int, int]]:
    """The spans of `text` that say one of `names` (whole, or its first two or more words, as a sentence cuts a long
    title short, or the variant it ends on, or a store card's name), without a bracketed part."""
    spans = []
    for name in names:
        name_words = without_parenthetical(name).split()
        runs = [" ".join(name_words[:n]) for n in range(len(name_words), 1, -1)]  # the longest run said first
        forms = [f for f in (title_variant(name), card_name(name)) if f]
        for said in runs + forms:
            if (start := text.find(said)) >= 0:
                spans.append((start, start + len(said)))
                break
    return spans


def _repeated_ngram(text: str) -> bool:
    """A run of three words twice (a loop); no run spans a name's bar."""
    grams = [g for part in text.split("|") for g in _ngrams(words(part), 3)]
    return len(set(grams)) < len(grams)


def _without_names(text: str, names: Sequence[str]) -> str:
    """`text` with each name it says replaced by a bar, which no repeated phrase spans."""
    for a, b in sorted(name_spans(text, names), reverse=True):
        text = text[:a] + " | " + text[b:]
    return text


MIN_GLUED_CHARS = 5  # "isa" or "ina" may be a name's own word; "islisted", "comesfrom" never are


@functools.cache
def glued_plan_words() -> frozenset[str]:
    """Two consecutive words of the sentence plans' fixed wording, written as one ("islisted", "sharesits")."""
    glued = set()
    for wording in PLAN_WORDING:
        for part in re.split(r"\{\w*\}", wording):  # no pair spans a value
            ws = words(part)
            glued |= {a + b for a, b in zip(ws, ws[1:]) if len(a + b) >= MIN_GLUED_CHARS}
    return frozenset(glued)


def _glued_words(own: str) -> bool:
    """A plan's two words run together, outside quoted listing words and the names cited (`own`): a dropped space
    that every other check reads past ("it islisted as “Organic Green Tea Gummies”")."""
    return bool(set(words(_QUOTE.sub(" ", own))) & glued_plan_words())


def degenerate_kinds(text: str, title: str = "", request: str = "", names: Sequence[str] = ()) -> list[str]:
    """The kinds (keys of DEGENERATE_KINDS) of degenerate text `text` is, as a reason for the item called `title`
    given the shopper's `request`; [] when none. A reason is degenerate when the list is not empty. `names`: the
    titles of the past items it cites, names rather than the sentence repeating itself ("shares its brand Red Robin
    with Red Robin Gift Card" says Red Robin once)."""
    ws = words(text)
    own = _without_names(text, names)
    found = []
    if _repeated_ngram(own):
        found.append("repeated_ngram")
    if _repeated_phrase(own, words(own)):
        found.append("repeated_phrase")
    if mostly_copied(ws, title, min_run=1):
        found.append("title_only")
    unquoted = _QUOTE.sub(" ", text.replace(title, " ") if title.strip() else text)
    if (_PROMPT_WORDS.search(text) or _HANDLE.search(text) or _CAPITAL_HANDLE.search(unquoted)
            or _PLACEHOLDER.search(text) or _MARKUP.search(text) or _ATTRIBUTE_LINE.search(text)):
        found.append("prompt_echo")
    if mostly_copied(ws, request, min_run=3):
        found.append("request_echo")
    if len([t for t in text.split() if re.search(r"[A-Za-z0-9]", t)]) < MIN_WORDS:
        found.append("too_short")
    if _first_person(text, title, request):
        found.append("first_person")
    if _glued_words(_without_names(text.replace(title, " ") if title.strip() else text, names)):
        found.append("glued_words")
    return found


# Kinds that no continuation can undo, judged on the words a reply has finished so far: a phrase said twice stays
# said twice, an echoed handle or prompt phrase stays in the text. (A title cut mid-way or a quote not yet closed
# could change the others, so they wait for the whole text.)
FINAL_KINDS = ("repeated_ngram", "repeated_phrase", "prompt_echo", "first_person", "glued_words")
_LAST_WORD = re.compile(r"[A-Za-z0-9]+$")


def finished_words(prefix: str) -> str:
    """A text still being written, up to its last finished word: the word being written may still grow ("the
    shopper" -> "the shoppers", "202" -> "2023")."""
    return _LAST_WORD.sub("", prefix)


def doomed_kinds(prefix: str, title: str = "", request: str = "", names: Sequence[str] = ()) -> list[str]:
    """The degenerate kinds the text starting with `prefix` has however it goes on: each is also in
    `degenerate_kinds` of every text that starts with `prefix` and cites past items among `names` (so a decoder may
    stop writing it). []: not doomed."""
    done = finished_words(prefix)
    own = _without_names(done, names)
    found = []
    if _repeated_ngram(own):
        found.append("repeated_ngram")
    if _repeated_phrase(own, words(own), closed_only=True):
        found.append("repeated_phrase")
    if (_PROMPT_WORDS.search(done) or _HANDLE.search(done) or _PLACEHOLDER.search(done) or _MARKUP.search(done)
            or _ATTRIBUTE_LINE.search(done)):
        found.append("prompt_echo")
    # a first-person word could be part of the title or request, which the full check removes once it is whole
    if not _FIRST_PERSON.search(f"{title} {request}") and _first_person(done, "", ""):
        found.append("first_person")
    if not _OPEN_QUOTE.search(done) and _glued_words(_without_names(done.replace(title, " ") if title.strip() else done,
                                                                       names)):
        found.append("glued_words")
    return found


# -- how specific a cited value is -------------------------------------------------------------------------------
def value_key(key: str, value: str) -> tuple[str, str]:
    """How a (key, value) is counted: "No returns … on Gift Cards." and "… on gift cards" are one value."""
    return key, normalise(value)


def value_frequencies(items: Iterable[Item]) -> dict[tuple[str, str], float]:
    """(key, normalised value) -> share of the items that have it (each item counted once). Range (0, 1]."""
    items = list(items)
    counts = Counter(kv for item in items for kv in {value_key(k, v) for k, v in item.attributes})
    return {kv: n / len(items) for kv, n in counts.items()} if items else {}


def value_share(frequencies: Mapping[tuple[str, str], float], key: str | None, value: str | None) -> float:
    """Share of the catalogue that has key=value; 0.0 when no item has it (or the claim names no value)."""
    return frequencies.get(value_key(key, value), 0.0) if key and value else 0.0


def is_vacuous(frequencies: Mapping[tuple[str, str], float], key: str | None, value: str | None) -> bool:
    """True when at least VACUOUS_SHARE of the catalogue has key=value: true of this item, and of most others."""
    return value_share(frequencies, key, value) >= VACUOUS_SHARE


def specificity(frequencies: Mapping[tuple[str, str], float], key: str | None, value: str | None) -> float | None:
    """IDF of key=value over the catalogue, log(N / df) = -ln(share). Range [0, ln N]; None when no item has it."""
    share = value_share(frequencies, key, value)
    return -math.log(share) if share > 0 else None


# -- a rating is a reason only when it is good ---------------------------------------------------------------------
RATING_KEYS = ("average_rating", "sentiment")
GOOD_AVERAGE_RATING = 4.0  # of 5 stars: below it a rating warns the shopper off, it does not recommend
MIN_RATINGS = 20  # ratings behind an average (Amazon's rating_number, the item's popularity) before it counts
# Steam's review summary labels that recommend a game (≥ 80 % positive, Steam's own bands); "Mostly Positive"
# (70-79 %), "Mixed" and every "Negative" do not, nor "3 user reviews" (no verdict at all).
GOOD_SENTIMENTS = frozenset({"positive", "very positive", "overwhelmingly positive"})


def rating_is_reason(item: Item, key: str | None, value: str | None) -> bool:
    """Whether citing `key`=`value` of `item` can be a reason to buy it. Only ratings are judged; every other
    key is True. An average rating counts when it is at least GOOD_AVERAGE_RATING stars from at least
    MIN_RATINGS ratings (a 5.0 from two buyers says little); a Steam sentiment counts when it is in
    GOOD_SENTIMENTS. "averages 2.6 stars" is true and is never shown as a reason."""
    if key not in RATING_KEYS:
        return True
    if key == "sentiment":
        return normalise(value or "") in GOOD_SENTIMENTS
    try:
        stars = float(value or "")
    except ValueError:
        return False
    return stars >= GOOD_AVERAGE_RATING and item.popularity >= MIN_RATINGS
