"""Reason-text checks beyond "does the text state a value nothing supports": text that is true but useless
(agent/text_quality's degenerate kinds), and facts a sentence can slip in that no catalogue vocabulary lists —
years and dates, store and marketplace names, popularity ("best-selling", "top-rated"), a quoted phrase the listing
does not hold, a listing line copied without quotes, "as you asked" of something nobody asked for, a plan's verb
filled with a value the pick lacks ("offers Team Fortress 2"), and a sentence the length limit cut off mid-word.
Each returns readable problems; the verifier rejects a text with any (the reason is then rendered from verified
facts). Pure functions."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from agent.catalogue import normalise, squash
from agent.occasions import made_for, occasions_in
from agent.select import MAKERS
from agent.sentences import clip_title, short_name
from agent.text_quality import (DEGENERATE_KINDS, RATING_KEYS, degenerate_kinds, finished_words, mostly_copied,
                                name_spans, rating_is_reason, without_parenthetical, words)
from agent.understand import Facet
from agent.wording import VERB_PHRASES
from index.models import Item

if TYPE_CHECKING:
    from agent.catalogue import ValueStats

_YEAR = re.compile(r"\b(19[5-9]\d|20[0-4]\d)\b")
_MONTHS = ("january|february|march|april|may|june|july|august|september|october|november|december|"
           "jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec")
_DATE = re.compile(rf"\b(?:{_MONTHS})\.?\s+\d{{1,2}}(?:st|nd|rd|th)?\b|\b\d{{1,2}}/\d{{1,2}}/\d{{2,4}}\b", re.I)
# Stores, marketplaces and platform owners a model names from its pre-training, whatever this catalogue's
# vocabulary holds ("a 2022 product from Amazon" about an H&PC item whose brand is not Amazon).
KNOWN_STORES = ("Amazon", "Walmart", "Target", "Costco", "eBay", "Etsy", "Best Buy", "Walgreens", "CVS",
                "Rite Aid", "Kroger", "Home Depot", "Lowe's", "Sephora", "Ulta", "Apple", "Google", "Microsoft",
                "Steam", "Valve", "Sony", "Nintendo", "Xbox", "PlayStation", "Epic Games", "GOG", "Whole Foods",
                "Trader Joe's", "Starbucks", "Visa", "Mastercard", "American Express", "PayPal", "iTunes",
                "Google Play", "Netflix", "Uber", "Nike", "Adidas", "Disney", "Macy's", "Kohl's", "Nordstrom",
                "Sam's Club", "Dollar General", "IKEA", "Wayfair", "Chewy", "Groupon")
# "from X" / "by X" / "at X" with a capitalised name: a claim about who makes or sells the item.
_MAKER = re.compile(r"\b(?:from|by|at|made by|sold by|sold at|available at)\s+((?:[A-Z][\w'&.-]*\s?){1,3})")
_POPULAR = re.compile(r"\b(?:popular|best[- ]?sell(?:ing|er)s?|america'?s\s+favou?rite|top[- ]rated|"
                      r"highly[- ]rated|best[- ]rated|most[- ]loved|fan[- ]favou?rite|bestsellers?|"
                      r"well[- ]reviewed|highly[- ]reviewed|award[- ]winning|#\s?1)\b", re.I)
# Data that supports a popularity word: a rating, a rank or a review count of the item itself.
_POPULARITY_KEYS = ("average_rating", "rating", "rank", "best_sellers_rank", "sales_rank", "sentiment",
                    "rating_number", "review_count", "metascore")
_GOOD_SENTIMENT = ("positive",)
# "averages 2.6 stars", "rated 3★", "Mixed user reviews": a rating stated in the text.
_STARS = re.compile(r"(\d(?:\.\d+)?)\s*(?:-?\s*stars?\b|★)", re.I)
_END = re.compile(r"[.!?…)\"'”’]\s*$")


def degenerate_problems(text: str, title: str, message: str, max_chars: int | None = None,
                        names: Sequence[str] = ()) -> list[str]:
    """Readable problems for every degenerate kind of `text` (a reason for the item `title`, asked `message`,
    citing the past items called `names`), and a sentence cut off by the length limit."""
    found = [f"is degenerate: {DEGENERATE_KINDS[k]}" for k in degenerate_kinds(text, title, message, names)]
    if cut_off(text, max_chars):
        found.append("was cut off by the length limit")
    elif stops_mid_sentence(text):
        found.append("stops mid-sentence")
    return found


def cut_off(text: str, max_chars: int | None) -> bool:
    """A text at (or within 2 characters of) the schema's maxLength that does not end a sentence was cut mid-way
    ("…a Buff Juice powder in Cherry Fla"): the end of it is missing, and may have been the point."""
    text = text.strip()
    return bool(text) and max_chars is not None and len(text) >= max_chars - 2 and not _END.search(text)


# Words no sentence ends on: "… for any special occasion. They are listed as" stopped before its point.
_DANGLING = frozenset("a an the as of to and or but with for from in on at by is are was were its their your this "
                      "that which who than like".split())


# Two full stops, not three: a sentence given up where it ran out of room ("… is tagged Atmospheric, as you..").
_GIVEN_UP = re.compile(r"(?<!\.)\.\.\s*$")


def stops_mid_sentence(text: str) -> bool:
    """The text ends without a sentence's end, on a word that needs more after it, or ends on two full stops."""
    if _GIVEN_UP.search(text):
        return True
    tail = re.findall(r"[A-Za-z']+", text.strip())
    return bool(tail) and not _END.search(text.strip()) and tail[-1].lower() in _DANGLING


def support_text(sources: list[Item], message: str, facets: list[Facet]) -> str:
    """Everything a reason may take a year, date or name from: the item, the cited past items, the request."""
    parts = [message] + [f.value for f in facets]
    for src in sources:
        parts.append(src.title)
        parts += [v for _, v in src.attributes]
    return " ".join(parts)


def year_and_date_problems(text: str, support: str) -> list[str]:
    """A year or date the text states must be written in the data it rests on."""
    found = [f"states the year {y} which the data does not" for y in _YEAR.findall(text) if y not in support]
    said = normalise(support)
    found += [f"states the date {d!r} which the data does not" for d in _DATE.findall(text)
              if normalise(d) not in said]
    return found


def name_problems(text: str, support: str, checked: frozenset[str] = frozenset()) -> list[str]:
    """Store, marketplace or maker names the text states must be the item's (or in the data it rests on): a
    known store name anywhere, and any capitalised name after "from"/"by"/"at". Names in `checked` (squashed
    catalogue vocabulary, which the verifier checks on its own) are left to that check."""
    said = squash(support)
    found = []
    for store in KNOWN_STORES:
        if (re.search(rf"(?<![\w]){re.escape(store)}(?![\w])", text) and squash(store) not in said
                and squash(store) not in checked):
            found.append(f"names {store}, which the item's data does not")
    for m in _MAKER.finditer(text):
        name = m.group(1).strip().rstrip(".,;'")
        key = squash(name)
        if (name and len(key) >= 3 and key not in said and key not in checked and not _sentence_start_word(name)
                and not any(key == squash(s) for s in KNOWN_STORES)):
            found.append(f"says it is from {name}, which the item's data does not")
    return found


def item_as_maker_problems(text: str, sources: list[Item]) -> list[str]:
    """"comes from Amazon.com Gift Card in a Diamond Plate Tin (you rated it 5★)": a name after "from"/"by" that
    is a run of an item's title (the pick's or a past item's) and no maker of theirs says the pick is made by an
    item. True words, a garbled claim: a link to a past item is "like …" or "shares …", never "from …"."""
    titles = [squash(src.title) for src in sources]
    makers = [squash(v) for src in sources for k, v in src.attributes if k in MAKERS]
    found = []
    titles_said = title_spans(text, sources)
    for m in _MAKER.finditer(text):
        if any(a < m.start() < b for a, b in titles_said):
            continue  # "with Grand Theft Auto: Episodes from Liberty City" names a game; "from" is the title's
        name = m.group(1).strip().rstrip(".,;'")
        key = squash(name)
        if (len(name.split()) >= 2 and any(key in t for t in titles)
                and not any(key in maker or maker == key for maker in makers)):
            found.append(f"says it is from {name}, an item's name, not its maker")
    return found


def title_spans(text: str, sources: list[Item]) -> list[tuple[int, int]]:
    """The spans of `text` that say a title (whole, or its first words as a sentence cuts it short)."""
    return name_spans(text, [src.title for src in sources])


def blank_titles(text: str, sources: list[Item]) -> str:
    """`text` with the titles it says (`title_spans`) blanked out, for checks about what the sentence itself says."""
    for a, b in title_spans(text, sources):
        text = text[:a] + " " * (b - a) + text[b:]
    return text


def _sentence_start_word(name: str) -> bool:
    """Capitalised words that are not names ("by Your request" cannot happen, but "at This price" can)."""
    return name.split()[0].lower() in {"this", "that", "these", "the", "your", "its", "a", "an", "it", "you"}


def popularity_supported(item: Item) -> bool:
    """A rating ≥ 4, a good Steam sentiment, a rank, or a review count of at least 50 in the item's data."""
    for key, value in item.attributes:
        if key not in _POPULARITY_KEYS:
            continue
        if key == "sentiment":
            if any(w in value.lower() for w in _GOOD_SENTIMENT) and "mixed" not in value.lower():
                return True
        elif key in ("average_rating", "rating", "metascore"):
            number = re.findall(r"\d+(?:\.\d+)?", value)
            if number and (float(number[0]) >= (75 if key == "metascore" else 4.0)):
                return True
        else:
            return True
    return item.popularity >= 50


def popularity_problems(text: str, item: Item) -> list[str]:
    """"Popular", "best-selling", "America's favorite", "top-rated" need a rating, rank or review count."""
    m = _POPULAR.search(_QUOTED.sub(" ", text))  # a quote is the listing's words, attributed (quote_problems)
    if m and not popularity_supported(item):
        return [f"says {m.group(0)!r} with no rating, rank or review count behind it"]
    return []


def rating_problems(text: str, item: Item) -> list[str]:
    """A rating of the item stated as a reason must be a good one (agent/text_quality `rating_is_reason`): "averages
    2.6 stars" or "has Mixed user reviews" is true and warns the shopper off. A star count that is not the item's
    average (the shopper's own "you rated it 5★" of a past item) is left to the other checks."""
    found = []
    for key, value in item.attributes:
        if key not in RATING_KEYS or rating_is_reason(item, key, value):
            continue
        if key == "average_rating":
            stated = any(abs(float(m.group(1)) - float(value)) < 0.05 for m in _STARS.finditer(text)
                         if re.fullmatch(r"\d+(?:\.\d+)?", value))
        else:
            stated = f" {normalise(value)} " in f" {normalise(text)} "
        if stated:
            found.append(f"cites its {key.replace('_', ' ')} {value}, which is no reason to buy it")
    return found


_QUOTED = re.compile(r"[“\"]([^”\"]{3,})[”\"]")
_AS_ASKED = re.compile(r"\bas you (?:asked|wanted|requested)\b|\byou asked for\b", re.I)


def quote_problems(text: str, sources: list[Item]) -> list[str]:
    """A quoted phrase ("is listed as “Costs $25.00”") must be the listing's own words: in a value or the title of
    the item or a cited past item. A model that learned the sentence plans can fill the quote marks with anything."""
    said = " ".join(normalise(v) for src in sources for v in [src.title, *(v for _, v in src.attributes)])
    found = [f"quotes “{q.strip()}”, which the listing does not say" for q in _QUOTED.findall(text)
             if normalise(q) and normalise(q) not in said]
    if text.count("“") != text.count("”"):  # “… destinations””. : a quote closed twice reads as a typo
        found.append("opens and closes its quotation marks unevenly")
    return found


def copied_listing_problems(text: str, item: Item) -> list[str]:
    """A reason that is mostly one of the item's own listing lines without quote marks ("Gift Card is nestled
    inside a reveal adorned with peppermint twine …") passes the seller's words off as whyrec's, and explains
    nothing: the listing's words are shown as a quote (“…”), with what they mean for the shopper."""
    said = words(_QUOTED.sub(" ", text))
    # a maker's name is a name, not a line ("It comes from BJ's Restaurant & Brewhouse.")
    return next(([f"copies the listing's words “{value[:60]}” without quoting them"]
                 for key, value in item.attributes if key not in MAKERS and mostly_copied(said, value, min_run=4)), [])


_LAST_PHRASE = re.compile(r",\s+|\s+and\s+", re.I)
_NUMBER = re.compile(r"\d+(?:\.\d+)?")


def _states_facet(clause: str, facet: Facet) -> bool:
    """Does the end of `clause` state what `facet` asked for? The phrase after its last "and" or comma, or the whole
    clause's end for a value that holds one ("is like Rock and Roll Racing"). A budget by its number, exactly
    ("costs $25.00" does not state "under $50", though "2500" holds "50"); anything else by its label or value."""
    phrase = _LAST_PHRASE.split(clause.strip())[-1]
    if facet.key in ("price_max", "price_min"):
        said = {round(float(n), 2) for n in _NUMBER.findall(phrase.replace(",", ""))}
        return round(float(facet.value), 2) in said
    tokens = [t for t in (squash(facet.label), squash(facet.value)) if len(t) >= 2]
    return any(t in squash(phrase) or squash(clause).endswith(t) for t in tokens)


def _states_run(clause: str, facets: list[Facet]) -> bool:
    """Does `clause` end with asked values only? Its last phrase states a facet (`_states_facet`), and so does every
    value before it that the same verb runs on ("is tagged Free to Play and Survival Horror, as you asked" says
    both were asked: a value after "and" is capitalised, a plan's next verb is not). A value that holds "and" is
    one value ("is like Rock and Roll Racing")."""
    if not any(_states_facet(clause, f) for f in facets):
        return False
    if any(" and " in f.value and squash(clause).endswith(squash(f.value)) for f in facets):
        return True
    separators = list(_LAST_PHRASE.finditer(clause.strip()))
    last = separators[-1] if separators else None
    if last is None or "and" not in last.group(0) or not re.match(r"[A-Z0-9$]", clause.strip()[last.end():]):
        return True
    return _states_run(clause.strip()[:last.start()], facets)


def asked_problems(text: str, facets: list[Facet]) -> list[str]:
    """"…, as you asked" must follow something the shopper did ask for: the phrase just before it (after the last
    "and" or comma) states a facet of the request, and so does each value of one verb it ends a list of
    (`_states_run`). "costs $25.00 and is from Amazon, as you asked" when only "under $50" was asked is a made-up
    request, though the sentence holds a price."""
    found, start = [], 0
    for m in _AS_ASKED.finditer(text):
        if not _states_run(text[start:m.start()], facets):
            found.append(f"says “{m.group(0)}” of something the request did not ask for")
        start = m.end()
    return found


# Keys whose value is a thing the pick has, said with its own verb ("offers Full controller support", "comes in a
# gift box"): "it is full controller support" (v14, of a Steam game) is no sentence, though every word is true.
_NOT_AFTER_IS = ("spec", "packaging", "design", "delivery", "developer", "publisher", "brand")


def bare_is_problems(text: str, item: Item) -> list[str]:
    """A value of `_NOT_AFTER_IS` said straight after "is" ("it is full controller support")."""
    text = _QUOTED.sub("“…”", text)
    found = []
    for key, value in item.attributes:
        spelled = r"[\s\-]+".join(map(re.escape, (w for w in re.split(r"[\s\-]+", value.strip()) if w)))
        if key in _NOT_AFTER_IS and spelled and re.search(
                r"\b(?:is|it's)\s+(?:an?\s+|the\s+)?" + spelled + r"(?![\w'’])", text, re.I):
            found.append(f"says it is {value}, a {key.replace('_', ' ')} said with the wrong verb")
    return found


# Verb phrases of the sentence plans (agent/sentences.py) that say what the pick IS: "is tagged X", "offers X",
# "sits in the X genre". What follows such a verb must be one of the pick's own values for that key, whole: a model
# that learned the plans can fill them with anything ("offers Team Fortress 2" of Counter-Strike, "is tagged
# Survival Evolved" of ARK: Survival Evolved, whose tag is Survival). Too generic a verb ("is", "has") is no slot.
_GENERIC_VERBS = {"is", "has", "has a", "is a", "costs"}


def _slots() -> dict[str, tuple[set[str], set[str]]]:
    """verb -> (attribute keys it states, words that may follow its value)."""
    slots: dict[str, tuple[set[str], set[str]]] = {}
    for key, pattern in {**VERB_PHRASES, "flavor": "comes in {v} flavor"}.items():
        verb, _, after = pattern.partition("{v}")
        verb = verb.strip().rstrip("$").strip()
        if verb in _GENERIC_VERBS:
            continue
        keys, follows = slots.setdefault(verb, (set(), set()))
        keys.add(key)
        if after.split():
            follows.add(after.split()[0])
    return slots


_SLOTS = _slots()
SLOT_KEYS = {verb: frozenset(keys) for verb, (keys, _) in _SLOTS.items()}  # what the copy guard holds a verb to
_SLOT_VERB = re.compile(r"\b(" + "|".join(re.escape(v) for v in sorted(_SLOTS, key=len, reverse=True)) + r")\s+",
                        re.I)
_AFTER_VALUE = r"(?=\s*$|\s*[.,;!?)]|\s+(?:and|as you asked|but|with|so|{follows})\b)"


_COMPANY_SUFFIX = re.compile(r"(?:\.com|,?\s+(?:inc|llc|ltd|corp|corporation|co)\.?)$", re.I)


def slot_problems(text: str, item: Item, facets: list[Facet]) -> list[str]:
    """"offers Team Fortress 2" when Team Fortress 2 is not among the pick's specs: a plan's verb whose filler is
    not, whole, one of the pick's values for the keys that verb states (or a value the shopper asked for, which
    the verifier holds the pick to). Quoted listing words are not read ("is listed as “Offers …”")."""
    text = _QUOTED.sub("“…”", text)
    found = []
    for m in _SLOT_VERB.finditer(text):
        keys, follows = _SLOTS[m.group(1).lower()]
        values = {v for k, v in item.attributes if k in keys} | {f.value for f in facets if f.key in keys}
        # any part of a list value is one too, as `states` reads it ("LucasArts,Aspyr Studios": made by either)
        values |= {part.strip() for v in values for part in v.split(",") if len(part.strip()) >= 2}
        values = sorted(values | {_COMPANY_SUFFIX.sub("", v) for v in values}, key=len, reverse=True)
        after = _AFTER_VALUE.format(follows="|".join(re.escape(w) for w in follows) or "(?!)")
        rest = text[m.end():]
        while True:
            end = _value_end(rest.lstrip("$"), values, after)
            if end is None:
                filler = " ".join(re.split(r"[.,;]|\s+and\s+", rest)[0].split()[:6])
                found.append(f"says it {m.group(1)} {filler}, which is not one of its values")
                break
            # "is tagged Mature and RPG": a capitalised word after "and" is a second value of the same slot (a plan's
            # next verb is lower case: "and sits in the Action genre"), as is whatever follows "and also" ("is
            # tagged Story Rich, as you asked, and also Mature"; v24 wrote "is delivered by e-mail, as you asked,
            # and also by papa John's Pizza"; the base model "is tagged Horror, as you asked, and also VR, and also
            # Logvinenko Alexandr, and also Atriagames", its developer and publisher as tags), as is a list's next
            # capitalised item after a comma ("is tagged Warhammer 40K and RTS, Feral Interactive (Mac/Linux)")
            rest = rest.lstrip("$")[end:]
            if not (second := _SECOND_VALUE.match(rest)):
                break
            rest = rest[second.end():]
    return found


# a next value of the same slot: after "and also", or "and" or a comma before a capitalised word ("is made by
# Aspyr Studios, LucasArts, Disney Interactive, and Disney World" was the base model's, of a Star Wars game)
_SECOND_VALUE = re.compile(r"(?:,?\s+as you asked)?,?\s+and\s+also\s+|,?\s+and\s+(?=[A-Z0-9$])|,\s+(?=[A-Z0-9$])")


def _value_end(rest: str, values: list[str], after: str) -> int | None:
    """Where the first of `values` that `rest` starts with, whole, ends; None when it starts with none."""
    for v in values:
        if v.strip(" $") and (m := re.match(
                r"[\s\-]+".join(re.escape(w) for w in re.split(r"[\s\-]+", v.strip(" $"))) + after, rest, re.I)):
            return m.end()
    return None


_SHARED_KEYS = sorted({k.replace("_", " ") for k in VERB_PHRASES} | {"flavor", "feature"}, key=len, reverse=True)
# the name runs to a bracket or a sentence's punctuation: the "." of "Amazon.com Gift Card …" is inside it
_SHARES = re.compile(r"\bshares its (" + "|".join(map(re.escape, _SHARED_KEYS))
                     + r") (.+?) with (?:your )?(.+?)(?= \(|[.,;](?:\s|$)|$)", re.I)


# "has the same brand as your Panera Bread card": a maker link whose past item's name says the maker
_SAME = re.compile(r"\bhas the same (" + "|".join(MAKERS) + r") as (?:your )?(.+?)(?= \(|[.,;](?:\s|$)|$)", re.I)


# How a sentence says whose a past item is: "(you rated it 5★)", "(you recommended it)", "(from your history)"
_WHOSE = re.compile(r"\((?:you (?:rated|recommended|mentioned|did not recommend)|from your history)[^)]*\)", re.I)
# what must come before the past item's name: a link's lead-in, its value holding no second " with "
_LINK_LEAD = re.compile(r"\bshares its (?:" + "|".join(map(re.escape, _SHARED_KEYS))
                        + r") (?:(?! with ).)+ with (?:your )?$|\b(?:the choice of|chosen by) \d+(?: shoppers)? who had (?:your )?$"
                        + r"|\bhas the same (?:" + "|".join(MAKERS) + r") as (?:your )?$", re.I)
# "is also the choice of 4 shoppers who had your Wendy's card", short "is chosen by 4 who had your Wendy's card": a
# count of other shoppers (agent/catalogue TOGETHER)
_TOGETHER = re.compile(r"\b(?:the choice of|chosen by) (\d+)(?: shoppers)? who had (?:your )?(.+?)(?= \(|[.,;](?:\s|$)|$)",
                       re.I)
_BY_SHOPPERS = re.compile(r"\bshoppers who (?:had|bought|own|liked)\b", re.I)


def past_names(past: Item) -> set[str]:
    """The names a sentence may call a past item by: its title, without its bracket, cut short, or its short name."""
    return {n for n in (past.title, without_parenthetical(past.title), clip_title(past.title),
                        short_name(past.title)) if n}


def whose_problems(text: str, sources: list[Item]) -> list[str]:
    """A past item said with whose it is must end a link, "shares its <key> <value> with [your] <a cited past item's
    name> (you rated it 5★)": the base model wrote "… and comes with a Plaid Gift Box (you rated it 5★)" of a card
    that comes with none (the shopper's past card is one), and every word was in the data."""
    names = {n for past in sources[1:] for n in past_names(past)}
    found = []
    for m in _WHOSE.finditer(text):
        before = text[:m.start()].rstrip()
        if not any(before.endswith(n) and _LINK_LEAD.search(before[: len(before) - len(n)]) for n in names):
            found.append(f"says “{text[max(0, m.start() - 40):m.end()].strip()}” outside a link to a past item")
    return found


# the shopper's own rating of a past item: "(you rated it 5★)", cut short at the card's length "(you rated it 5★",
# "the Amazon card you rated 5 stars" (said of the pick, "you rated it" is `had_the_pick_problems`')
_OWN_RATING = re.compile(r"\(?\byou rated (?:it )?\d(?:\.\d+)?\s*(?:★|stars?\b)\)?", re.I)


def stray_rating_problems(text: str, item: Item) -> list[str]:
    """A star count that is not the shopper's own of a past item ("(you rated it 5★)") rates the pick, so it must be
    the pick's average: the base model wrote "it's rated 5★ by the Applebee's card" of an e-mail card no review
    rated (the 5★ was the shopper's, of their Applebee's card), and every word was in its prompt."""
    averages = [float(v) for k, v in item.attributes if k == "average_rating" and re.fullmatch(r"\d+(?:\.\d+)?", v)]
    said = _QUOTED.sub(" ", _OWN_RATING.sub(" ", text))
    return [f"says it is rated {m.group(0).strip()}, which is not its average rating" for m in _STARS.finditer(said)
            if not any(abs(float(m.group(1)) - a) < 0.05 for a in averages)]


_LIKE_LEAD = re.compile(r"\blike (?:your )?$", re.I)  # "Like the Amazon card you rated 5 stars": a link too


def past_outside_link_problems(text: str, sources: list[Item]) -> list[str]:
    """A cited past item is named only where a link leads to it ("shares its … with [your] …", "the choice of 4
    shoppers who had [your] …", "has the same brand as [your] …", "like [your] …"): the base model, citing true
    links, wrote "… and is a Red Gift Box Reveal with Jingle Bells." of a Kraft Paper Reveal, "Your SUBWAY card is a
    gift from DSW Designer Shoe Warehouse." and "… it is rated 5★ by the carrabba's Italian Grill card." A name the
    pick's own title says too is the pick's ("a Starbucks card" whatever the shopper had)."""
    pick = squash(sources[0].title)
    found = []
    for past in sources[1:]:
        names = {n for n in past_names(past)
                 if len(squash(n)) >= 3 and squash(re.sub(r"\s+card$", "", n, flags=re.I)) not in pick}
        said: list[tuple[int, int]] = []
        for name in sorted(names, key=len, reverse=True):  # the longest name first: a short one is inside it
            for m in re.finditer(rf"(?<!\w){re.escape(name)}(?!\w)", text, re.I):
                if any(a <= m.start() < b for a, b in said):
                    continue
                said.append(m.span())
                before = re.sub(r"\bthe $", "", text[:m.start()], flags=re.I)  # "who had your The Cheesecake …"
                if not (_LINK_LEAD.search(before) or _LIKE_LEAD.search(before)):
                    found.append(f"names {name} outside a link to it")
    return found


def _named_past(text: str, m: re.Match[str], group: int, sources: list[Item]) -> list[Item]:
    """The cited past items (sources[1:]) a link's name (`m.group(group)`) says: the title, its first words as a
    sentence cuts it short, the title whole and then more ("… with Assassin’s Creed® Rogue and offers Partial
    Controller Support": no bracket ends the name; "… with L.A. Noire (…)": a full stop inside the title ends the
    match early), or its short name, alone or with more words after it (a short reason has no bracket: "… as your
    Petco card and costs $25.00.")."""
    name, rest = squash(m.group(group)), f"{normalise(text[m.start(group):])} "
    return [past for past in sources[1:] if (len(name) >= 3 and squash(past.title).startswith(name))
            or squash(short_name(past.title) or "") == name
            or any(n and rest.startswith(f"{normalise(n)} ")
                   for n in (clip_title(past.title), short_name(past.title)))]


# "You rated it 5★.", "You chose it for your Applebee's card.": the shopper said to have had the pick, which a chat's
# shopper never had (the base model's garble of "the choice of 10 shoppers who had your Applebee's card"); a past
# item's "(you rated it 5★)" ending a link, whole or cut off, is `whose_problems`'
_HAD_THE_PICK = re.compile(r"(?<!\()\byou(?:'ve| have)? (?:rated|recommended|chose|bought|ordered|picked|purchased|owned|"
                           r"liked|loved|enjoyed|played|reviewed|used|tried|got|gave) (?:it|this)\b", re.I)


def had_the_pick_problems(text: str) -> list[str]:
    """A sentence that says the shopper had, rated or chose the pick: they never did (their history is not
    recommended to them), so it is false whatever it cites."""
    return [f"says the shopper {m.group(0).lower().removeprefix('you ')} (the pick is none of their past items)"
            for m in _HAD_THE_PICK.finditer(text)]


def says_together(text: str, count: str) -> bool:
    """Whether the text says how many other shoppers had a past item and the pick, with that count: naming the past
    item alone ("You chose it for your Applebee's card") does not state it."""
    return any(m.group(1) == count for m in _TOGETHER.finditer(text))


def together_problems(text: str, sources: list[Item], stats: ValueStats | None) -> list[str]:
    """"the choice of 4 shoppers who had your Wendy's card": a cited past item, and exactly as many other shoppers had
    it and the pick (`ValueStats.together`)."""
    found = []
    if len(_BY_SHOPPERS.findall(text)) > len(_TOGETHER.findall(text)):  # "popular with shoppers who had …"
        found.append("says what shoppers who had a past item chose without the count the data gives")
    for m in _TOGETHER.finditer(text):
        named = _named_past(text, m, 2, sources)
        if not named:
            found.append(f"says shoppers who had {m.group(2)} chose it, which is no past item it cites")
        elif not any(stats and stats.together(sources[0].item_id, p.item_id) == int(m.group(1)) for p in named):
            found.append(f"says {m.group(1)} shoppers who had {m.group(2)} chose it, which the data does not say")
    return found


def shared_problems(text: str, sources: list[Item]) -> list[str]:
    """"shares its tag Survival with Titan Souls": the past item named must be a cited one (its title, or the
    title's first words as a sentence cuts it short) and hold that value under that key, as must the pick. A cited
    link does not make a garbled one true ("… with Amazon.com Gift Cards in a Black Gift Box" of "… Card in …")."""
    found = []
    for m in _SHARES.finditer(text):
        key, value = m.group(1).lower().replace(" ", "_"), squash(m.group(2))
        named = _named_past(text, m, 3, sources)
        if not named:
            found.append(f"says it shares {m.group(2)} with {m.group(3)}, which is no past item it cites")
        elif not (_holds(sources[0], key, value) and any(_holds(past, key, value) for past in named)):
            found.append(f"says it shares its {m.group(1)} {m.group(2)} with {m.group(3)}, which they do not share")
    for m in _SAME.finditer(text):
        key, named = m.group(1).lower(), _named_past(text, m, 2, sources)
        if not named:
            found.append(f"says it has the same {key} as {m.group(2)}, which is no past item it cites")
        elif not any(_holds(past, key, squash(v)) for v in sources[0].values(key) for past in named):
            found.append(f"says it has the same {key} as {m.group(2)}, which it does not")
    return found


def _holds(item: Item, key: str, squashed_value: str) -> bool:
    return any(k == key and squash(v) == squashed_value for k, v in item.attributes)


def doomed_claims(prefix: str, item: Item, support: str, titles: str) -> list[str]:
    """Problems `claims_problems` finds in every text starting with `prefix`, judged on its finished words: a year
    the data does not hold (`support` holds at least what the verifier's does: the item, every past item shown, the
    request) and a popularity word nothing backs (unless a title holds it: `titles`, every title the verifier might
    take it from)."""
    done = finished_words(prefix)
    found = [f"states the year {y} which the data does not" for y in _YEAR.findall(done) if y not in support]
    said = _POPULAR.search(done)
    if said and not popularity_supported(item) and normalise(said.group(0)) not in normalise(titles):
        found.append(f"says {said.group(0)!r} with no rating, rank or review count behind it")
    return found


# a negation and at most two words before a ruled-out value: "is not from Starbucks", "no Gummy"
_NEGATED = re.compile(r"\b(?:not|no|never|without|except|instead of|rather than|other than)\b(?:\W+\w+){0,2}\W*$", re.I)


def excluded_problems(text: str, sources: list[Item], facets: list[Facet]) -> list[str]:
    """A value the shopper ruled out ("not Starbucks") is said only as ruled out: "is not from Starbucks", never
    "is from Starbucks, as you asked" (the adapter wrote that of an Amazon tin, citing the met exclusion). A cited
    past item's title may hold it ("… with Starbucks Gift Card (you rated it 5★)")."""
    said = blank_titles(text, sources)
    found = []
    for f in facets:
        if not (f.key.startswith("exclude_") and f.value):
            continue
        if any(not _NEGATED.search(said[:m.start()])
               for m in re.finditer(rf"(?<!\w){re.escape(f.value)}(?!\w)", said, re.I)):
            found.append(f"says it is {f.value}, which the shopper ruled out")
    return found


def claims_problems(text: str, sources: list[Item], message: str, facets: list[Facet],
                    checked: frozenset[str] = frozenset()) -> list[str]:
    """Facts stated in free text that the item (sources[0]), the cited past items and the request must hold."""
    support = support_text(sources, message, facets)
    return (year_and_date_problems(text, support) + name_problems(text, support, checked)
            + item_as_maker_problems(text, sources)
            + popularity_problems(text, sources[0]) + rating_problems(text, sources[0])
            + quote_problems(text, sources) + copied_listing_problems(text, sources[0]) + asked_problems(text, facets) + slot_problems(text, sources[0], facets)
            + bare_is_problems(text, sources[0])
            + excluded_problems(text, sources, facets)
            + shared_problems(text, sources) + whose_problems(text, sources) + had_the_pick_problems(text)
            + stray_rating_problems(text, sources[0]) + past_outside_link_problems(text, sources)
            + occasion_problems(text, sources, facets))


_OCCASION_NAMED = re.compile(r"\boccasion you (?:named|asked|mentioned)", re.I)


def occasion_problems(text: str, sources: list[Item], facets: list[Facet] = ()) -> list[str]:
    """An occasion the sentence gives the pick that nothing of the pick names: the base model, asked for "a birthday
    gift card", showed "… features the Red Gift Box design, and is a gift card for your birthday." The pick's
    title and values may name it ("Birthday Cupcake Tin"); a cited past item's title or a quoted listing line is
    not the sentence saying it. "The occasion you named" says the one the request names: the base model wrote it of
    an AMC popcorn card for "a thank-you gift" with no occasion claim."""
    pick = sources[0]
    own = occasions_in(" ".join([pick.title, *(v for _, v in pick.attributes)]))
    said = occasions_in(_QUOTED.sub(" ", blank_titles(text, sources)))
    problems = [f"says it is for {o.replace('_', ' ')}, which nothing of the item names" for o in sorted(said - own)]
    named = {o for f in facets if f.key == "occasion" for o in occasions_in(f.value)}
    if _OCCASION_NAMED.search(text) and not made_for(pick) & named:  # as verify.py meets an occasion facet
        problems.append("says it is made for the occasion the shopper named, which nothing of the item names")
    return problems
