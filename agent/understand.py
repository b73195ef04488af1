"""Understand a chat message: what to search for, the active constraints after it, and the facets a reason may cite.

Rule-based on purpose: it is fast, deterministic and cannot be talked into anything. It reads prices, brands,
catalogue values (genre, tag, spec, flavor, item form, diet type) asked for or ruled out ("not early access",
"no Amazon", "without sugar"), "like <title>", occasions, and the refinements of a multi-turn chat ("cheaper",
"another brand", "why the second one?"). What the rules leave may be a soft wish ("something scary", "for the
family"): agent/wishes.py reads it as a catalogue value through the embedding space when the match is clearly
close, and the answer says so in a note.

The constraints are carried from turn to turn (`Conversation.constraints`) and changed only by what the shopper
says: a refinement keeps all of them; a new request replaces what the item IS (genres, tags, flavors, "like X")
and keeps what the shopper set about price, brands and exclusions, saying so in a note."""

from __future__ import annotations

import re
from dataclasses import dataclass

from agent.catalogue import Catalogue, normalise, squash
from agent.conversation import Conversation, PastTurn
from agent.request import MATCHED_KEYS, Facet, FacetKey, Request, stem
from agent.select import product_named
from agent.wishes import Wish, noun, read_wishes

__all__ = ["Facet", "FacetKey", "Request", "PastTurn", "understand", "parse_facets"]

_MONEY = r"\$?\s?(\d+(?:[.,]\d{1,2})?)\s?(?:dollars|usd|bucks)?"
_PRICE_MAX = re.compile(rf"\b(?:under|below|less than|cheaper than|at most|up to|max(?:imum)?|no more than|within)\s+{_MONEY}", re.I)
_PRICE_MAX_AFTER = re.compile(rf"{_MONEY}\s+(?:or less|or under|max|tops)\b", re.I)
_PRICE_MIN = re.compile(rf"(?<!no )\b(?:over|above|more than|at least|min(?:imum)?|pricier than)\s+{_MONEY}", re.I)
_BETWEEN = re.compile(rf"\bbetween\s+{_MONEY}\s+(?:and|to|-)\s+{_MONEY}", re.I)
# A negation and what it rules out, up to the end of the clause: "not early access", "no Amazon or Visa".
_NEGATED = re.compile(r"(?<![\w$])(?:(?:not|no|nothing|without|less(?!\s+than)|isn[’']?t|is not|aren[’']?t|except|other than|anything but|"
                      r"don[’']?t want|avoid)\b|non-)\s*([^.;!?()]+?)(?=\s+(?:but|please|thanks|though|under|below|over|"
                      r"for|that|which|like)\b|[.;!?()]|,\s*(?:and\s+)?(?:a|an|something|anything|maybe|ideally)\b|$)",
                      re.I)
_NOT_PRICE = re.compile(r"^(?:more|less|higher|lower|cheaper|pricier)\s+than\b", re.I)
_MAKER_LEAD = re.compile(r"^\s*(?:(?:made|sold)\s+)?(?:from|by)\s+", re.I)  # "not from X", "not made by X"
_ONLY_BRAND = re.compile(r"\b(?:from|by|only|brand)\s+([\w.&' -]{2,40})", re.I)
_LIKE = re.compile(r"\b(?:like|similar to)\s+(.+?)(?=\s+(?:but|and|with|for|under|below|that)\b|[,.;!?](?:\s|$)|$)",
                   re.I)
_CHEAPER = re.compile(r"\b(?:cheaper|less expensive|lower price|more affordable)\b(?!\s+than)", re.I)
_PRICIER = re.compile(r"\b(?:pricier|more expensive|higher end|fancier)\b(?!\s+than)", re.I)
_OTHER_BRAND = re.compile(r"\b(?:another|different|other|new)\s+brands?\b", re.I)
_ANY_PRICE = re.compile(r"\b(?:any price|no budget|forget the (?:budget|price)|price doesn'?t matter)\b", re.I)
_ANY_BRAND = re.compile(r"\b(?:any brand|forget the brand|brand doesn'?t matter)\b", re.I)
_RESET = re.compile(r"\b(?:start over|start again|new search|forget (?:all )?(?:that|everything))\b", re.I)
_CONTINUE = re.compile(r"^\s*(?:and|but|also|plus|with|without|only|maybe|now|ok|okay|hmm|what about)\b", re.I)
_WHY = re.compile(r"\bwhy\b", re.I)
# "based on my past purchases", "like the ones I played": the shopper's history is the request, not a wish
# ("based" read as the tag Based On A Novel)
_PERSONAL = re.compile(r"\b(?:based on|going by|like|similar to)\s+(?:my|what i|the ones? i|things i|stuff i|"
                       r"everything i)\b[^.;!?]*", re.I)
_ORDINALS = {"first": 1, "1st": 1, "second": 2, "2nd": 2, "third": 3, "3rd": 3, "fourth": 4, "4th": 4,
             "fifth": 5, "5th": 5, "#1": 1, "#2": 2, "#3": 3, "#4": 4, "#5": 5, "last": -1}
_OCCASIONS = {"birthday": "birthday", "christmas": "Christmas", "holiday": "the holidays", "holidays": "the holidays",
              "wedding": "a wedding", "graduation": "a graduation", "anniversary": "an anniversary",
              "valentine": "Valentine's Day", "valentines": "Valentine's Day", "housewarming": "a housewarming",
              "retirement": "a retirement", "baby shower": "a baby shower", "mother s day": "Mother's Day",
              "father s day": "Father's Day", "thank you": "a thank-you", "teacher": "a teacher"}
_FILLER = {"a", "an", "the", "any", "too", "so", "very", "really", "more", "some", "of", "that", "it", "is", "in"}
_REFINEMENT_WORDS = set("cheaper pricier more less expensive affordable another different other new brand brands "
                        "something else show me please one ones instead those these them that please ok okay again "
                        "and but also a an the with without not no only maybe now".split())
_WHAT_KEYS = {*MATCHED_KEYS, "like_item"}  # what the item IS: replaced by a new request, kept by a refinement
_LABEL_KEY = {"item_form": "form", "diet_type": "diet", "spec": "feature"}


def _money(text: str) -> float:
    return float(text.replace(",", "."))


def _fmt(price: float) -> str:
    """A price as a facet value and in a label: "25" for $25.00, "7.40" for $7.40 (never "7.4")."""
    return f"{price:.2f}".removesuffix(".00")


def _label(key: str, value: str) -> str:
    base = key.removeprefix("exclude_")
    if base == "brand":
        return f"not {value}" if key.startswith("exclude_") else f"from {value}"
    name = _LABEL_KEY.get(base, base)
    return f"not {value}" if key.startswith("exclude_") else f"{name} {value}"


def _stemmed(text: str) -> str:
    return "".join(stem(w) for w in normalise(text).split())


def _vocabulary_index(catalogue: Catalogue) -> dict[str, list[tuple[str, str]]]:
    """Squashed singular form -> the (key, value) pairs it names, one spelling per key (capitalised first)."""
    cached = _INDEXES.get(id(catalogue))
    if cached is not None and cached[0] is catalogue:
        return cached[1]
    index: dict[str, list[tuple[str, str]]] = {}
    for key in MATCHED_KEYS:
        for value in sorted(catalogue.vocabulary.get(key, set()), key=lambda v: (v[:1].islower(), v)):
            form = _stemmed(value)
            if len(form) >= 3 and not any(k == key for k, _ in index.get(form, [])):
                index.setdefault(form, []).append((key, value))
    _INDEXES[id(catalogue)] = (catalogue, index)
    return index


_INDEXES: dict[int, tuple[Catalogue, dict[str, list[tuple[str, str]]]]] = {}

# The shopper's word for a catalogue value, in squashed singular form, read only where the catalogue has that value
# ("an e-gift card I can send today" is the Gift Cards' delivery e-mail; it picked plastic cards before).
_VALUE_ALIASES = {"egift": "email", "ecard": "email", "emailed": "email", "digital": "email", "electronic": "email",
                  "virtual": "email"}


def _lookup(index: dict[str, list[tuple[str, str]]], form: str) -> list[tuple[str, str]]:
    return index.get(form) or index.get(_VALUE_ALIASES.get(form, ""), [])


def _match_vocabulary(message: str, catalogue: Catalogue) -> list[tuple[str, str]]:
    """(key, value) pairs the message names as whole words, singular or plural ('coop' == 'Co-op',
    'gummies' == 'Gummy')."""
    words = [stem(w) for w in normalise(message).split()]
    grams = {"".join(words[i:j]) for i in range(len(words)) for j in range(i + 1, min(i + 4, len(words)) + 1)}
    index = _vocabulary_index(catalogue)
    return sorted(pair for gram in grams for pair in _lookup(index, gram))


_ALIASES = {"violence": "violent", "microtransactions": "in app purchases", "mmo": "massively multiplayer",
            "mmos": "massively multiplayer"}  # the shopper's word for a catalogue value


def _value_at_start(fragment: str, catalogue: Catalogue) -> list[tuple[str, str]]:
    """(key, value) pairs a negated fragment names at its start, after filler words ('too violent' -> Violent):
    the longest catalogue value wins; a value under several keys (Steam's 'Early Access') counts under each."""
    words = normalise(fragment).split()
    while words and words[0] in _FILLER:
        words = words[1:]
    words = " ".join(_ALIASES.get(w, w) for w in words).split()
    index = _vocabulary_index(catalogue)
    for n in range(min(5, len(words)), 0, -1):
        if found := _lookup(index, "".join(stem(w) for w in words[:n])):
            return list(found)
    return []


def _brand_named(fragment: str, brands: set[str], family: bool = True) -> str | None:
    """The catalogue brand that the start of `fragment` names ('amazon gift cards' -> 'Amazon'); failing that, a
    brand family: the leading word of brands such as 'Amazon Basics' and 'Amazon Elements' (H&PC has no brand
    'Amazon'), returned as the shopper wrote it, which agent/select.py matches against every brand of the family."""
    frag = normalise(fragment)
    named = [brand for brand in brands if (b := normalise(brand)) and (frag == b or frag.startswith(b + " "))]
    # the longest; of spellings alike ("BulkSupplements", "Bulksupplements") the first in order, whatever the set's
    best = min(named, key=lambda brand: (-len(normalise(brand)), brand)) if named else None
    if best is None and family and (first := frag.split()[:1]) and len(first[0]) >= 3:
        family = [b for b in brands if normalise(b).split()[:1] == first and len(normalise(b).split()) > 1]
        if len(family) >= 2:  # one 'Sweet Tooth' brand does not make 'not sweet' a brand
            best = next(w for w in fragment.split() if normalise(w) == first[0])
    return best


def _is_refinement(message: str) -> bool:
    content = [w for w in normalise(message).split() if w not in _REFINEMENT_WORDS]
    return len(content) <= 1


def _new_product(text: str, new: list[tuple[str, str, str]], previous: PastTurn, catalogue: Catalogue) -> bool:
    """The message names another product than the conversation's ("an electric toothbrush" after "melatonin
    gummies", "a toothpaste"): a new request however few its words, not a refinement of the last one."""
    kind = product_named(text, [v for k, v, _ in new], catalogue)
    if kind is None:
        return False
    before = product_named(previous.request.query_text, [f.value for f in previous.request.facets], catalogue)
    return before is None or before.head != kind.head


def _negations(message: str, catalogue: Catalogue
               ) -> tuple[list[tuple[str, str]], list[tuple[int, int]], list[tuple[str, tuple[int, int]]]]:
    """Exclusions the message states, the character spans they cover (kept out of positive matching), and the
    negated fragments no catalogue value names ("nothing scary": a wish to rule out, agent/wishes.py)."""
    brands = catalogue.vocabulary.get("brand", set())
    # Steam has no brands: its makers are developers and publishers ("not Ubisoft"), named outright
    makers = catalogue.vocabulary.get("developer", set()) | catalogue.vocabulary.get("publisher", set())
    found: list[tuple[str, str]] = []
    spans: list[tuple[int, int]] = []
    unresolved: list[tuple[str, tuple[int, int]]] = []
    for m in _NEGATED.finditer(message):
        fragment = m.group(1)
        if _NOT_PRICE.match(fragment.strip()):
            continue
        hit = False
        for part in re.split(r",|\s+or\s+|\s+and\s+|\s+nor\s+|/", fragment):
            part = _MAKER_LEAD.sub("", part)  # "not from Colgate" was read as "from Colgate"
            if brand := _brand_named(part, brands) or _brand_named(part, makers, family=False):
                found.append(("exclude_brand", brand))
                hit = True
            for key, value in _value_at_start(part, catalogue)[:1]:  # ruled out under every key (select.py)
                found.append((f"exclude_{key}", value))
                hit = True
        if hit:
            spans.append(m.span())
        else:
            unresolved.append((fragment, m.span()))
    return found, spans, unresolved


def parse_facets(message: str, catalogue: Catalogue) -> tuple[list[tuple[str, str, str]], str, list[str]]:
    """What this message alone asks for: (key, value, label) facets, the message without its negated clauses
    (what to embed) and the items it names ('like X')."""
    facets, positive_text, mentioned, _ = _parse(message, catalogue)
    return facets, positive_text, mentioned


@dataclass
class _Unread:
    """What the rules did not read: the message with every understood piece cut out ('|' where one was), and the
    negated fragments no catalogue value names — where agent/wishes.py looks for soft wishes."""

    residue: str
    negated: list[tuple[str, tuple[int, int]]]


def _cut(text: str, pattern: re.Pattern) -> str:
    return pattern.sub(" | ", text)


def _parse(message: str, catalogue: Catalogue) -> tuple[list[tuple[str, str, str]], str, list[str], _Unread]:
    facets: list[tuple[str, str, str]] = []
    if m := _BETWEEN.search(message):
        lo, hi = sorted((_money(m.group(1)), _money(m.group(2))))
        facets += [("price_min", _fmt(lo), f"at least ${_fmt(lo)}"), ("price_max", _fmt(hi), f"at most ${_fmt(hi)}")]
    else:
        for m in [*_PRICE_MAX.finditer(message), *_PRICE_MAX_AFTER.finditer(message)]:
            facets.append(("price_max", _fmt(_money(m.group(1))), f"under ${_fmt(_money(m.group(1)))}"))
        for m in _PRICE_MIN.finditer(message):
            facets.append(("price_min", _fmt(_money(m.group(1))), f"over ${_fmt(_money(m.group(1)))}"))

    negated, spans, unresolved = _negations(message, catalogue)
    positive_text = message
    residue = message
    for start, end in sorted([*spans, *(span for _, span in unresolved)], reverse=True):
        residue = residue[:start] + " | " + residue[end:]
    for start, end in reversed(spans):
        positive_text = positive_text[:start] + " " + positive_text[end:]
    facets += [(k, v, _label(k, v)) for k, v in negated]

    brands = catalogue.vocabulary.get("brand", set())
    excluded = {v for k, v in negated if k == "exclude_brand"}
    for m in _ONLY_BRAND.finditer(positive_text):
        if (brand := _brand_named(m.group(1), brands)) and brand not in excluded:
            facets.append(("brand", brand, f"from {brand}"))

    mentioned: list[str] = []
    for m in _LIKE.finditer(positive_text):
        if item := catalogue.find_title(m.group(1)):
            mentioned.append(item.item_id)
            facets.append(("like_item", item.title, f"like {item.title}"))

    ruled_out = {_stemmed(v) for _, v in negated}
    taken: set[str] = set()
    matched = sorted(_match_vocabulary(positive_text, catalogue), key=lambda kv: MATCHED_KEYS.index(kv[0]))
    for key, value in matched:  # one facet per value: a value under several keys is asked for once
        if _stemmed(value) not in ruled_out and _stemmed(value) not in taken:
            taken.add(_stemmed(value))
            facets.append((key, value, _label(key, value)))

    words = f" {normalise(positive_text)} "
    for word, occasion in _OCCASIONS.items():
        if f" {word} " in words:
            facets.append(("occasion", occasion, f"for {occasion}"))
            break
    return facets, positive_text.strip(), mentioned, _Unread(_residue(residue, facets, catalogue), unresolved)


_UNDERSTOOD = (_BETWEEN, _PRICE_MAX, _PRICE_MAX_AFTER, _PRICE_MIN, _PERSONAL, _LIKE, _CHEAPER, _PRICIER, _OTHER_BRAND,
               _ANY_PRICE, _ANY_BRAND, _RESET, _WHY)


def _residue(text: str, facets: list[tuple[str, str, str]], catalogue: Catalogue) -> str:
    """`text` with every piece the rules read cut out: budgets, 'like X', refinements, brands, occasions and the
    words of catalogue values named outright. A wish is looked for only in what is left."""

    for pattern in _UNDERSTOOD:
        text = _cut(text, pattern)
    read = {stem(w) for _, value, _ in facets for w in normalise(value).split()}  # brands too: 'not Amazon'

    read |= {w for word in _OCCASIONS for w in word.split()}
    read_values = {_stemmed(value) for _, value, _ in facets}  # "e-gift", read as e-mail, is read
    out = []
    for token in re.findall(r"[\w'’-]+|[^\w\s]", text):
        words = [stem(w) for w in normalise(token).split()]
        aliased = _VALUE_ALIASES.get("".join(words)) in read_values
        out.append(" | " if words and (aliased or all(w in read or w in _ALIASES for w in words)) else token)
    return " ".join(out)


def _merge(carried: list[Facet], new: list[tuple[str, str, str]], refining: bool) -> list[tuple[str, str, str]]:
    """Carried constraints updated by the message's: a new budget replaces the old, a new brand the old brand, an
    exclusion cancels the same value asked for (and the reverse); a new request replaces what the item is."""
    new_keys = {k for k, _, _ in new}
    out = []
    for f in carried:
        if f.key in _WHAT_KEYS and not refining:
            continue
        if f.key in ("price_max", "price_min", "brand", "occasion") and f.key in new_keys:
            continue
        if any(_stemmed(v) == _stemmed(f.value) and k.removeprefix("exclude_") == f.key.removeprefix("exclude_")
               and k != f.key for k, v, _ in new):
            continue
        out.append((f.key, f.value, f.label))
    if "brand" in new_keys:  # asking for a brand outright lifts its exclusion
        wanted = {v for k, v, _ in new if k == "brand"}
        out = [f for f in out if not (f[0] == "exclude_brand" and f[1] in wanted)]
    return out + list(new)


def _wishes(unread: _Unread, new: list[tuple[str, str, str]], carried: list[Facet], catalogue: Catalogue) -> list[Wish]:
    """The soft wishes in what the rules left, minus values this message or the conversation already has."""
    taken = {normalise(v) for _, v, _ in new}
    active = {(f.key, normalise(f.value)) for f in carried}
    return [w for w in read_wishes(unread.residue, catalogue, taken=taken,
                                   excluded_text=[fragment for fragment, _ in unread.negated])
            if (w.key, normalise(w.value)) not in active]


_BUDGETS = (_BETWEEN, _PRICE_MAX, _PRICE_MAX_AFTER, _PRICE_MIN)
_NO_CONTENT = {*_FILLER, "for", "my", "me", "to", "with", "something", "anything", "please", "i", "want", "need",
               "looking", "like", "and", "or", "one"}


def _search_text(query_text: str, catalogue: Catalogue) -> str:
    """What retrieval embeds: the query's first line without its budget (a filter, not a description) and without
    the catalogue's own noun ("gift card" on Gift Cards: every item is one), so the words that set items apart
    carry the embedding. Embedded whole, "a restaurant gift card under $40" was as close to a Santa tin (0.49) as to
    BJ's Restaurant (0.55); "a restaurant" is not (0.05 vs 0.47). Empty when nothing else is left ("a gift card")."""
    first, *rest = query_text.splitlines() or [""]
    for pattern in _BUDGETS:
        first = pattern.sub(" ", first)
    one, many = noun(catalogue)
    first = re.sub(rf"\b(?:{re.escape(one)}s?|{re.escape(many)})\b", " ", first, flags=re.I)
    if not set(normalise(first).split()) - _NO_CONTENT:
        return ""
    return "\n".join([" ".join(first.split()), *rest])


def _wish_note(wish: Wish) -> str:
    name = _LABEL_KEY.get(wish.key.removeprefix("exclude_"), wish.key.removeprefix("exclude_"))
    if not wish.sure:
        return (f"If “{wish.phrase}” means the {name} {wish.value}, say “{'not ' if wish.excludes else ''}"
                f"{wish.value.lower()}” and I'll apply it; I only apply a reading I'm sure of.")
    if wish.excludes:
        return f"I read “{wish.phrase}” as the {name} {wish.value} and left it out (remove the chip if that's wrong)."
    return f"I read “{wish.phrase}” as the {name} {wish.value} (remove the chip if that's wrong)."


def understand(message: str, catalogue: Catalogue, conversation: Conversation | None = None) -> Request:
    previous = conversation.last_recommendation() if conversation else None
    carried = conversation.constraints if conversation else []
    notes: list[str] = []

    if _WHY.search(message) and previous is not None:
        rank = next((r for word, r in _ORDINALS.items() if re.search(rf"(?<!\w){re.escape(word)}(?!\w)", message, re.I)), 1)
        n = len(previous.answer.recommendations)
        rank = n if rank == -1 else rank
        return Request(message=message, query_text=previous.request.query_text, facets=carried,
                       intent="why", why_rank=rank, mentioned_item_ids=previous.request.mentioned_item_ids)

    if _RESET.search(message):
        previous, carried = None, []
        notes.append("Starting over: earlier constraints are cleared.")

    new, positive_text, mentioned, unread = _parse(message, catalogue)
    unreadable = not normalise(message)
    refining = previous is not None and not _new_product(positive_text, new, previous, catalogue) and (
        unreadable or _is_refinement(positive_text) or bool(_CONTINUE.search(message)) or bool(_CHEAPER.search(message))
        or bool(_PRICIER.search(message)) or bool(_OTHER_BRAND.search(message))
        or (not mentioned and not any(k in _WHAT_KEYS for k, _, _ in new) and len(normalise(positive_text).split()) <= 3))
    # a wish ("something scary", "for the family") is read after the rules, so a message that is only a wish
    # refines the search like "cheaper" does; what it maps to is said in a note and carried like any constraint
    wishes = _wishes(unread, new, carried, catalogue)
    for wish in wishes:
        notes.append(_wish_note(wish))
        if not wish.sure:
            continue
        new.append((wish.key, wish.value, _label(wish.key, wish.value)))
        if wish.excludes:  # "nothing scary" is not what to search for
            for fragment, (start, end) in unread.negated:
                if wish.phrase in normalise(fragment) and fragment in positive_text:
                    positive_text = positive_text.replace(fragment, " ", 1)
    if unreadable and previous is not None:
        notes.append(f"I couldn't read a request in {message!r}; I kept everything as it was. Tell me what to "
                     "change (a budget, a brand, a genre, a flavour).")

    exclude_ids: list[str] = []
    cheaper_than = None
    shown = previous.answer.recommendations if previous else []
    if refining:
        query_text = previous.request.query_text
        extra = " ".join(w for w in normalise(positive_text).split() if w not in _REFINEMENT_WORDS)
        if extra and extra not in normalise(query_text):
            query_text = f"{query_text}\n{extra}"
        exclude_ids = list(previous.request.exclude_ids)
        mentioned = mentioned or list(previous.request.mentioned_item_ids)
    else:
        query_text = positive_text or message
        kept = [f.label for f in carried if f.key not in _WHAT_KEYS
                and f.key not in {k for k, _, _ in new if k in ("price_max", "price_min", "brand", "occasion")}]
        if kept and previous is not None:
            notes.append(f"Kept from before: {', '.join(kept)} (remove any of them to widen the search).")
    if _ANY_PRICE.search(message):
        carried = [f for f in carried if f.key not in ("price_max", "price_min")]
    if _ANY_BRAND.search(message):
        carried = [f for f in carried if f.key not in ("brand", "exclude_brand")]
    facets = _merge(carried, new, refining)

    if _CHEAPER.search(message) and previous is not None:
        prices = [r.price for r in shown if r.price is not None]
        if prices:
            cheaper_than = min(prices)
            facets = [f for f in facets if f[0] != "price_max"
                      and not (f[0] == "price_min" and float(f[1]) >= cheaper_than)]
            facets.append(("price_max", _fmt(cheaper_than - 0.01), f"cheaper than ${_fmt(cheaper_than)}"))
            exclude_ids += [r.item_id for r in shown]
        else:
            notes.append("The earlier suggestions had no listed prices, so 'cheaper' could not be applied.")
    if _PRICIER.search(message) and previous is not None:
        prices = [r.price for r in shown if r.price is not None]
        if prices:
            facets = [f for f in facets if f[0] != "price_min"
                      and not (f[0] == "price_max" and float(f[1]) <= max(prices))]
            facets.append(("price_min", _fmt(max(prices) + 0.01), f"pricier than ${_fmt(max(prices))}"))
            exclude_ids += [r.item_id for r in shown]
    if _OTHER_BRAND.search(message) and previous is not None:
        for rec in shown:
            brand = next((v for k, v in rec.attributes if k == "brand"), None)
            if brand:
                facets = [f for f in facets if not (f[0] == "brand" and f[1] == brand)]
                facets.append(("exclude_brand", brand, f"not {brand}"))
        exclude_ids += [r.item_id for r in shown]

    for item_id in mentioned:
        if (item := catalogue.get(item_id)) is not None:
            exclude_ids.append(item_id)
            if item.text not in query_text:
                query_text = f"{query_text}\n{item.text}"

    unique: list[tuple[str, str, str]] = []
    for f in facets:
        if (f[0], f[1]) not in {(u[0], u[1]) for u in unique}:
            unique.append(f)
    read_from = {(f.key, f.value): f.wish for f in carried if f.wish} | {(w.key, w.value): w.phrase for w in wishes
                                                                          if w.sure}
    return Request(
        message=message,
        query_text=query_text,
        search_text=_search_text(query_text, catalogue),
        facets=[Facet(handle=f"r{i + 1}", key=k, value=v, label=label, wish=read_from.get((k, v)))
                for i, (k, v, label) in enumerate(unique)],
        exclude_ids=sorted(set(exclude_ids)),
        mentioned_item_ids=list(dict.fromkeys(mentioned)),
        notes=notes,
        cheaper_than=cheaper_than,
    )
