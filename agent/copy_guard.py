"""Values copied whole: once an explain reply's sentence says a lead-in ("is tagged ", "shares its tag Dark with "),
the words after it must be one of the values that lead-in can take, letter for letter.

Why at decode time: the v12 adapter's Steam contradictions (eval/runs/adapter-20261204T142653Z-90775e01) were
almost all values it began right and finished wrong: "is tagged Choicesieftious" (Choices Matter), "with STAR
Worthiness™ Republic Commando™" (STAR WARS™), "shares its tag Offrange" (Offroad), "offers Free" (a price said with
a spec's verb), "shares its tag Warhammer 40K with Warhammer 40K". The verifier rightly rejects each, and the card
falls back to a rendered sentence. The local decoder asks `CopyGuard` about the model's best tokens and the first
token of every value still possible, likeliest first, and keeps the first that still spells a value
(agent/llm/decode.py); when none does, the model's choice stands and the verifier judges the sentence as before.

Lead-ins are the candidate's own phrases (agent/sentences.py VERB_PHRASES and the past-item link), so a value is
one the item really has (all of them, not only those the prompt shows: a true tag is never blocked), a value after
"shares its tag " one a liked past item has too (then " with"), and a past item after "shares its tag Dark with "
is one of the shopper's liked items that has tag Dark. A value the sentence already said is not offered again
("shares its tag Choices Matter … and is tagged Choices …" must go on to another tag). Free words are never constrained: only what follows a lead-in, until the value ends where the verifier reads
a value's end (so "comes from Amazon eGift Card" cannot pass as "Amazon"), and a sentence closes only on a whole one.

Words no value of the pick can follow are refused before they are written: a verb the pick has no value left for
("comes" of a game, which has no brand, packaging or colour; "comes from" once its one brand was said; "costs"
without a price), the prompt's handles, "shares" right after a said link; and a value is begun only where it fits
the reply's length cap.

A longer reason opens with its card's sentence plan ("Chosen because it" of the fourth card): the words the training
targets of that card position open with, which v23 was taught and did not learn (it opened "A pick that" on 56 to 79
of 100 first cards, eval/runs/adapter-20261206T123854Z-257deefd), so five cards of an answer open five ways.

A short reason ("It {a} and {b}.", at most 80 characters) says after " and" only an offered phrase that fits, whole
(one its reply cites, where one fits, and none stating a value it said), and ends after the first where none does
("It features the Red Gift Box design."), not mid-value at the cap; where one does, it goes on (" and"), as its
targets do.

A sentence says the facts its reply cites (the JSON's claims come first): its first phrase is one of them (two of one
verb merged, "is tagged Physics and Co-op, as you asked", as the targets say them); after a whole phrase and " and",
a cited fact it has not said (the link after a fact, the fact after a link, the rest of a merged phrase), and a
longer reason ends once it has said them.

A server (vLLM) decodes out of reach: this is a local-only call option, like `abandon_if`.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from itertools import permutations
from typing import TYPE_CHECKING

from agent.reply_models import cited_so_far, text_closed, text_so_far
from agent.schemas import TOGETHER
from agent.select import MAKERS
from agent.sentences import ASKED, clip_title, merged_phrase, quoted, short_name
from agent.text_checks import SLOT_KEYS
from agent.text_quality import without_parenthetical
from agent.wording import PLAN_OPENINGS, PLAN_WORDING, VERB_PHRASES
from index.attributes import SHARED

if TYPE_CHECKING:
    from agent.explain import Handles

# Keys whose values a sentence names after a fixed verb (VERB_PHRASES "is tagged {v}"); keys said as "comes in …"
# share one lead-in between packaging, colour and form, and a price or a year is copied from one shown number.
GUARDED_KEYS = ("tag", "genre", "spec", "developer", "publisher", "brand", "design")
HANDLE_START = re.compile(r"\s*[ahr](\d|:|$)")  # "a1", "h2:", a lone "a" that a digit would follow
OPENING_CHARS = 3  # the sentence's first letters, where a handle would be
# What may follow a whole value (the verifier's `_AFTER_VALUE`, agent/text_checks.py): a mark, or a word that
# starts the next phrase, or a plan's own word after its value ("sits in the Action genre"). Not a colon: v18 wrote
# "is tagged Warhammer 40K: Dawn of War II", the tag and then the rest of the pick's title
VALUE_END_MARKS = ".,;!?)"
VALUE_END_WORDS = (" and", " as", " but", " with", " so") + tuple(sorted(
    {f" {after.split()[0]}" for after in (p.partition("{v}")[2] for p in VERB_PHRASES.values()) if after.split()}))
# "costs": too generic a verb for the verifier's slots, but refused where the pick lists no price (v22 wrote "comes
# from American Eagle and costs $25." of a card with none)
PRICE_VERB = VERB_PHRASES["price"].partition(" {v}")[0]
# The words each fixed wording says before its value ("is made for the occasion you named", "shares its"): a verb
# the pick has nothing for is refused only where no such wording goes on from the same words
PLAN_LEADS = frozenset(lead for p in PLAN_WORDING
                        if "{a}" not in p and (lead := p.partition("{v}")[0].strip().rstrip("$").strip().lower()))
HELD_VERBS = {**SLOT_KEYS, PRICE_VERB: frozenset({"price"})}  # verb -> the keys whose values may follow it
FREE_LEADS = PLAN_LEADS - HELD_VERBS.keys()  # wordings that go on whatever the pick has ("is made for the occasion")


def _article_leads() -> dict[str, tuple[str, str]]:
    """Guarded lead-in -> (its verb, its article): "sits in the" -> ("sits in", "the"), where no other verb phrase
    goes on from "sits in" ("comes in a" does not qualify: "comes in {v} form" and "comes in {v}" go on from
    "comes in" without one)."""
    out = {}
    for key in GUARDED_KEYS:
        lead = VERB_PHRASES[key].split("{v}")[0].rstrip()
        verb, _, article = lead.rpartition(" ")
        if verb and article in ("the", "a") and not any(
                p.startswith(f"{verb} ") and not p.startswith(f"{lead} ") for p in VERB_PHRASES.values()):
            out[lead] = (verb, article)
    return out


ARTICLE_LEADS = _article_leads()  # worked out once: `for_candidate` runs for every card of every turn


@dataclass(frozen=True)
class CopyGuard:
    """Lead-in -> the values that may follow it (the reply's JSON escaping is undone before comparing)."""

    values: dict[str, tuple[str, ...]]
    # a short reason's length cap and the phrases the prompt offers (v14 wrote "… design and comes in a pop-upoln"
    # into explain_terse's 60 characters): see `_second_phrase` and `Closing`
    max_chars: int | None = None
    phrases: tuple[str, ...] = ()
    message: str = ""  # the shopper's, spaces collapsed and casefolded: a sentence never opens with it (`Opening`)
    # each verb the verifier reads a value after ("comes from", "sits in the") -> the pick's values it may take,
    # casefolded: one with none left to say is refused (`_refused_words`)
    slot_values: dict[str, tuple[str, ...]] = field(default_factory=dict)
    handle_names: tuple[str, ...] = ()  # "a3", "h1": never a word (v21: "… is tagged Management and a3.")
    # the reply's length cap, any template: a value is begun only where it fits whole (v22 ran "… and is tagged
    # Music-Based Procedural Gen" into explain_persuasive's 150 characters, where "is tagged Music" fitted)
    room: int | None = None
    opening: str = ""  # the words the sentence opens with: its card's plan (`plan_opening`); none in a short reason
    # each handle -> the words that state its fact: a sentence goes on with those of what its reply cites
    # (`_cited_next`)
    handle_phrases: dict[str, str] = field(default_factory=dict)
    # an offered phrase of the pick's own -> the value it states: one the sentence said is not offered again
    # (`_fitting`)
    phrase_values: dict[str, str] = field(default_factory=dict)
    # two facts of one verb said once ("is tagged Physics and Co-op, as you asked", as the targets merge them) -> the
    # phrases it states
    merged: dict[str, frozenset[str]] = field(default_factory=dict)

    @classmethod
    def for_candidate(cls, handles: Handles, index: int, message: str = "") -> CopyGuard:
        item = handles.candidates[index]
        values: dict[str, set[str]] = {}
        for key in GUARDED_KEYS:
            lead = VERB_PHRASES[key].split("{v}")[0].rstrip()
            values.setdefault(lead, set()).update(item.values(key))
            if lead in ARTICLE_LEADS:  # the article too: v27 wrote "… and sits in Strategy genre, as you asked"
                verb, article = ARTICLE_LEADS[lead]
                values.setdefault(verb, set()).update(f"{article} {v}" for v in item.values(key))
        # a listing's words are quoted whole, as the sentence plans quote them (agent/sentences.py): v24 wrote
        # "is listed as “Redemption: In-Restaurant and OnlineTo" and left two quotes open past the cap
        values["is listed as"] = {quoted(v) for v in item.values("feature")}
        liked = [(p.item.title, {(k, v.casefold()) for k, v in p.item.attributes}) for p in handles.history
                 if handles.liked(p)]
        for key in SHARED:
            said = key.replace("_", " ")
            shared = []  # the pick's values a liked past item has too
            for value in item.values(key):
                linked = [title for title, has in liked if (key, value.casefold()) in has]
                names = {n for t in linked for n in (clip_title(t), without_parenthetical(t), t)}
                names |= {f"your {n}" for t in linked if (n := short_name(t))}
                if names:
                    shared.append(value)
                    values.setdefault(f"shares its {said} {value} with", set()).update(names)
                    if key in MAKERS:  # "has the same brand as your Panera Bread card" (agent/sentences.py)
                        values.setdefault(f"has the same {said} as", set()).update(names)
            # a shared value goes on " with" a past item: v23 wrote "It shares its tag Survival, as you asked, …"
            # (a tag no liked game has, and no past item), which the verifier rejects; where none is shared, the
            # pick's own values are still copied whole and the verifier judges the link
            values[f"shares its {said}"] = {f"{v} with" for v in shared} or set(item.values(key))
        for j in handles.citable_history(index):  # "is also the choice of 4 shoppers who had your IHOP card"
            claim = handles.to_claim(index, f"h{j + 1}")
            if claim.attribute == TOGETHER:
                title = handles.history[j].item.title
                names = {clip_title(title)} | ({f"your {n}"} if (n := short_name(title)) else set())
                values.setdefault("the choice of", set()).update(f"{claim.value} shoppers who had {n}" for n in names)
                values.setdefault("chosen by", set()).update(f"{claim.value} who had {n}" for n in names)  # short
        slot_values = {verb: tuple(v.casefold() for k, v in item.attributes if k in keys)
                       for verb, keys in HELD_VERBS.items()}
        offered = handles.claim_handles(index)
        named = [h for h in offered if h != "none"]
        phrase = {h: handles.phrase(index, h) for h in offered}  # each handle's words, worked out once
        facts = {h: (claim, phrase[h]) for h in named if (claim := handles.to_claim(index, h)).kind != "history"}
        merged = {m: frozenset((facts[x][1], facts[y][1])) for x, y in permutations(facts, 2)
                  if (m := merged_phrase(*facts[x], *facts[y]))}
        # a lead-in is matched without its space, so the token that carries the space and the value's first letters
        # (" Choices") is checked too
        return cls({lead: tuple(sorted(f" {v}" for v in vals)) for lead, vals in values.items() if vals},
                   handles.reason_max_chars if handles.short else None,  # a short reason's plan: "It {a} and {b}."
                   tuple(phrase[h] for h in offered), _folded(message),
                   slot_values, tuple(named), handles.reason_max_chars,
                   "" if handles.short else plan_opening(index),
                   {h: phrase[h] for h in named},
                   {said: claim.value for claim, said in facts.values() if claim.value},
                   merged)

    def pending(self, raw: str) -> Copying | Opening | Closing | Continuing | Refusing | None:
        """For a reply so far, the value being copied, the sentence's first letters (`Opening`), its end where no
        other phrase fits (`Closing`), " and" after its first phrase where another fits (`Continuing`), or the words
        it may not go on with (`Refusing`): None when the sentence has not begun, or nothing is refused."""
        text = text_so_far(raw)
        if text is None:
            return None
        if text == (self.opening or "It") and (first := self._first_phrase(text, raw)) is not None:
            return first
        if len(text) <= len(self.opening):
            return Opening(self.message, plan=self.opening, said=text)
        if len(text) < OPENING_CHARS or _may_echo(text, self.message):
            return Opening(self.message)
        said = _before_going_on(text)  # a short reason that has just said a whole offered phrase (and begun " and")
        if self._ends_phrase(said):
            fitting = self._fitting(said)
            if said == text and not fitting:
                return Closing(len(text))
            if fitting and len(self._said(said)) == 1:
                return Continuing(len(said))
        if self._says_all_cited(text, raw):
            return Closing(len(text))
        if (second := self._second_phrase(text, raw)) is not None:
            return second
        if (cited := self._cited_next(text, raw)) is not None:
            return cited
        if (first := self._first_phrase(text, raw)) is not None:
            return first
        refusing = Refusing(spans) if (spans := _after_a_link(text) + self._refused_words(text)) else None
        return self._copying(text, refusing) or refusing

    def _copying(self, text: str, refusing: Refusing | None) -> Copying | None:
        """The value the latest lead-in's words are copying, while it is not yet whole; once one is whole (" Dark"
        of " Dark and"), what may follow it is refused too (a title's own words are not: "Comes the Night")."""
        found = [(text.rfind(lead) + len(lead), lead) for lead in self.values if lead in text]
        if not found:
            return None
        start, lead = max(found, key=lambda f: (f[0], len(f[1])))  # the latest lead-in; the longest of those
        said = text[:start - len(lead)].casefold()
        choices = [v for v in self.values[lead] if v.strip().casefold() not in said] or list(self.values[lead])
        if self.room is not None:  # and room for the closing "."
            choices = [v for v in choices if start + len(v) < self.room] or choices
        copied = text[start:]
        if _state(copied, choices) != "copying":
            return None
        whole = any(copied.startswith(v) for v in choices)
        return Copying(start, tuple(choices), tuple(v[len(copied):] for v in choices if v.startswith(copied)),
                       refusing if whole else None)

    def _refused_words(self, text: str) -> tuple[tuple[int, str], ...]:
        """The prompt's handles, and the verbs the pick has no value left to say for, from where the sentence's next
        words begin (its end, and the starts of its last two words). v21 wrote "… and comes from Paradox
        Interactive" of a game (a game has no brand), "comes in the Early Access genre", "comes from American Eagle
        and comes from American Eagle"; the verifier rejects each. A verb is refused as soon as its words can only
        become it: "comes" for a game, "comes in" for an e-gift card with no packaging (while "comes in a" is a
        tin's), "is made by" where no maker is known ("is made for the occasion you named" goes on)."""
        said = text.casefold()
        sayable = {verb for verb, values in self.slot_values.items() if any(v not in said for v in values)}
        leads = FREE_LEADS | sayable
        refused = {prefix for verb in self.slot_values.keys() - sayable for prefix in _word_prefixes(verb)
                   if not any(lead == prefix or lead.startswith(prefix + " ") for lead in leads)}
        refused = {p for p in refused if not any(p.startswith(q + " ") for q in refused)}  # "came", not "came out"
        refused |= set(self.handle_names)
        starts = [m.start() for m in re.finditer(r"(?:^|(?<=\s))\S", text)][-2:] + [len(text)]
        return tuple((start, prefix) for start in starts for prefix in sorted(refused))

    def _fitting(self, said: str) -> list[str]:
        """The offered phrases not yet said that fit after `said` + " and " with the closing ".", none stating a value
        `said` says: v25, fed "comes from Zaxby's, as you asked" after "It is from Zaxby's, as you asked", looped on
        10 of 100 asked Gift Cards terse reasons."""
        room, folded = (self.max_chars or 0) - len(said) - len(" and ."), said.casefold()
        asked = ASKED in said  # said once a sentence: "…, as you asked, and offers Steam Workshop, as you asked" loops
        return [p for p in self.phrases if len(p) <= room and p.casefold() not in folded
                and not (asked and p.endswith(ASKED))
                and ((value := self.phrase_values.get(p)) is None or value.casefold() not in folded)]

    def _ends_phrase(self, text: str) -> bool:
        return self.max_chars is not None and any(text.endswith(p) for p in (*self.phrases, *self.merged))

    def _said(self, text: str) -> set[str]:
        """The offered phrases whose facts `text` states, alone or merged with another."""
        folded = text.casefold()
        said = {p for p in self.handle_phrases.values() if p.casefold() in folded}
        return said.union(*(ps for m, ps in self.merged.items() if m.casefold() in folded))

    def _first_phrase(self, text: str, raw: str) -> Copying | None:
        """After the opening ("It", the card's plan), one of the phrases the reply cites (or two of them merged),
        copied whole. v25 cited "h7", "a1" (is tagged FPS, as you asked) and wrote "It offers Online Co-op and shares
        its tag Heist with your PAYDAY™ The Heist (you recommended it)." (a fact it never cited first, then the link,
        then the end): 35 of 100 asked Steam default reasons said nothing the shopper asked for, v24 6."""
        lead = self.opening or "It"  # a short reason's targets open "It"
        cited = self._cited(raw)
        if not cited or not (text == lead or text.startswith(f"{lead} ")):
            return None

        def fits(phrase: str) -> bool:  # with the closing "."
            return self.room is None or len(lead) + len(phrase) + 1 < self.room

        merged = [m for m, ps in self.merged.items() if ps <= set(cited) and fits(m)]
        # two cited facts of one verb are said once, as the targets say them (never "…, as you asked, and is
        # tagged Co-op, as you asked")
        alone = [p for p in cited if fits(p) and not any(p in self.merged[m] for m in merged)]
        choices = [f" {p}" for p in dict.fromkeys(alone + merged)]
        if any(text[len(lead):].startswith(c) for c in choices):
            return None  # said whole: what follows it is the other steps' (`Continuing`, `_cited_next`, `Refusing`)
        return _copying_one_of(text, len(lead), choices)

    def _second_phrase(self, text: str, raw: str) -> Copying | None:
        """After a whole offered phrase and " and", one of the offered phrases that fit, copied whole (those of the
        handles the reply cites, where one fits): v14's second phrase "comes in a pop-up reveal" ran past the cap
        where "comes from Amazon" fitted."""
        cut = text.rfind(" and")
        if cut < 0:
            return None
        said = text[:cut].removesuffix(",")  # "…, as you asked, and comes from Amazon"
        if not self._ends_phrase(said):
            return None
        start = cut + len(" and")  # from the word after " and" on ("comes" of "comes in a tin" is not free)
        fitting = self._fitting(said)
        cited = [p for p in fitting if p in self._cited(raw)]
        return _copying_one_of(text, start, self._merged_rests(said, raw, start) or [f" {p}" for p in cited or fitting])

    def _merged_rests(self, said: str, raw: str, start: int) -> list[str]:
        """After a cited phrase and " and", the rest of its merged phrase with the other cited one, where it fits:
        " Space" of "is tagged Exploration and Space" (v26 wrote "It is tagged Exploration and is tagged Space." of
        one game for three shoppers, where its targets merge them)."""
        cited = set(self._cited(raw))
        rests = [rest[len(" and"):] for m, ps in self.merged.items() if ps <= cited for p in ps
                 if said.endswith(p) and m.startswith(p) and (rest := m[len(p):].removeprefix(",")).startswith(" and ")]
        return [r for r in rests if self.room is None or start + len(r) + 1 < self.room]

    def _cited(self, raw: str) -> list[str]:
        """The phrases of the handles the reply cites (`reply_models.cited_so_far`)."""
        return [p for h in cited_so_far(raw) if (p := self.handle_phrases.get(h))]

    def _says_all_cited(self, text: str, raw: str) -> bool:
        """Whether a longer reason has just said the last of the two or more facts its reply cites, whole: it ends
        there, as its targets do (fed the cited link after a fact, v25 went on "… (you recommended it) and offers
        Stats.", a third fact it never cited)."""
        cited = set(self._cited(raw))
        endings = [*cited, *(m for m, ps in self.merged.items() if ps <= cited)]
        return (self.max_chars is None and len(cited) >= 2 and cited <= self._said(text)
                and any(text.endswith(p) for p in endings))

    def _cited_next(self, text: str, raw: str) -> Copying | None:
        """After a whole offered phrase and " and", the words of a handle the reply cites and has not said: after a
        cited past-item link, the other cited fact; after a fact, a cited link. v24 cited "h4", "a1" (is tagged Open
        World) of Grand Theft Auto V and wrote "It shares its tag Crime with your PAYDAY 2 (you recommended it) and
        costs $39.99." (a3's fact: true, shown, and not what it cited; 17 of 100 Steam default reasons, its targets
        3); v25 cited "h2", "a1" and wrote "It is tagged Physics, as you asked, and also Physics." (the link unsaid;
        12 of 100 asked Steam default replies looped so)."""
        cut = text.rfind(" and")
        if cut < 0:
            return None
        said = text[:cut].removesuffix(",")  # "This one {a}, and it {b}."
        if not any(said.endswith(p) for p in (*self.phrases, *self.merged)):
            return None
        cited = cited_so_far(raw)
        links = [self.handle_phrases[h] for h in cited if h.startswith("h") and h in self.handle_phrases]
        after_link = any(said.endswith(link) for link in links)
        start, lead = cut + len(" and"), " it" if len(said) < cut else ""
        if not lead and (rests := self._merged_rests(said, raw, start)):
            return _copying_one_of(text, start, rests)
        done = self._said(said)
        return _copying_one_of(text, start, [
            f"{lead} {p}" for h in cited if (p := self.handle_phrases.get(h)) and h.startswith("h") != after_link
            and p not in done and (self.room is None or start + len(lead) + len(p) + 1 < self.room)])


def _copying_one_of(text: str, start: int, choices: list[str]) -> Copying | None:
    """The text from `start` on copying one of `choices` whole (None: no choice, or it no longer copies one)."""
    copied = text[start:]
    if not choices or _state(copied, choices) != "copying":
        return None
    return Copying(start, tuple(choices), tuple(v[len(copied):] for v in choices if v.startswith(copied)))


@dataclass(frozen=True)
class Copying:
    """A value being copied: where it starts in the sentence, the values it may still become, and the rest of each
    (the decoder tries the first token of every rest as well as the model's own best tokens)."""

    start: int
    choices: tuple[str, ...]
    rests: tuple[str, ...]
    refusing: Refusing | None = None  # words refused where the value ends

    def allows(self, raw_after: str) -> bool:
        """Whether the reply after one more token still copies (or has finished) one of the values."""
        after = text_so_far(raw_after)
        if after is None or len(after) < self.start:
            return True  # escaping is half-written: nothing to check yet
        copied = after[self.start:].rstrip("\ufffd")
        return (_state(copied, list(self.choices), text_closed(raw_after)) != "broken"
                and (self.refusing is None or self.refusing.allows(raw_after)))

    def forced(self) -> str:
        """What every value still possible goes on with, in whole words: the decoder feeds it without a decode step
        (as the grammar's jump-forward does). A value that ends here, or a word two values share only in part,
        leaves the choice to the model."""
        common = os.path.commonprefix(list(self.rests))
        if not common or common in self.rests:
            return common
        return common[:common.rfind(" ")] if " " in common[1:] else ""


@dataclass(frozen=True)
class Refusing:
    """Words the sentence may not go on with, each from where it would begin: (start, words). The words are whole
    ("comes" refuses "comes from", not "comestible") and matched ignoring case ("Offers" opens a sentence)."""

    spans: tuple[tuple[int, str], ...]
    rests: tuple[str, ...] = ()

    def allows(self, raw_after: str) -> bool:
        after = text_so_far(raw_after)
        if after is None:
            return True
        for start, words in self.spans:
            said = after[start:].lstrip().lower()
            if said.startswith(words) and (len(said) == len(words) or not said[len(words)].isalnum()):
                return False
        return True

    def forced(self) -> str:
        return ""


def _word_prefixes(phrase: str) -> list[str]:
    """"comes in a" -> "comes", "comes in", "comes in a"."""
    words = phrase.split()
    return [" ".join(words[:n]) for n in range(1, len(words) + 1)]


_SAID_LINK = re.compile(r"\bshares its .+ with |\bhas the same \w+ as |\bthe choice of \d+ shoppers who had "
                        r"|\bchosen by \d+ who had ")
# a reason links one past item (the targets' one link): after a said link and " and", none of these begins ("is
# also" is how the sentence plans begin only "is also the choice of …")
_SECOND_LINK = ("shares", "has the same", "is also", "is the choice", "is chosen")


def _after_a_link(text: str) -> tuple[tuple[int, str], ...]:
    """The words after a said link ("shares its … with …", "has the same brand as …", "is also the choice of 3
    shoppers who had …") and " and": never a second link. v21 wrote 4 of its 8 faulty Steam explain_history
    replies as "it shares its tag Dark with your DARK SOULS™ II (you recommended it) and shares its tag Survival
    Horror." (a link's words about a value no past item shares), where its targets go on "and is tagged …"
    (eval/runs/adapter-20261206T042921Z-c9d5375b); v24 wrote "… the choice of 3 shoppers who had your Texas
    Roadhouse card (you rated it 5★) and is also the choice of 3 shoppers who had Texas R…" on three Gift Cards
    cells (eval/runs/adapter-20261206T152748Z-2a705d38)."""
    cut = text.rfind(" and")
    if cut < 0 or len(text[cut + len(" and"):].split()) > 3 or not _SAID_LINK.search(text[:cut]):
        return ()
    return tuple((cut + len(" and"), words) for words in _SECOND_LINK)


@dataclass(frozen=True)
class Opening:
    """The sentence's first letters: never a handle, nor the shopper's message read back. Asked for an occasion it
    had not seen, v12 began 2 of 15 chat replies "a1: …" (the prompt's line copied); asked "a co-op game under
    $20", v17 began 4 of 5 "A co-op game under $20, and …" (its sentence plan "A pick that …" opens with the
    message's first word). The verifier rejects both, so the model's next choice is tried ("A pick"). A longer
    reason opens with its card's plan (`plan`, fed whole: `plan_opening`), so neither can begin it."""

    message: str = ""
    plan: str = ""  # the card's plan's first words, which the sentence opens with, then a space
    said: str = ""
    rests: tuple[str, ...] = ()

    def allows(self, raw_after: str) -> bool:
        after = text_so_far(raw_after)
        if after is None:
            return True
        if self.plan:
            n = len(self.plan)
            return after[:n] == self.plan[:len(after)] and (len(after) <= n or after[n] == " ")
        return not (HANDLE_START.match(after) or _echoes(after, self.message))

    def forced(self) -> str:
        return self.plan[len(self.said):]


def plan_opening(position: int) -> str:
    """The first words of the sentence plan of the card at `position` (0: the first) of an answer: "It", "This
    one", "A pick that", "Chosen because it", … (agent/wording.py: PLANS_ONE and PLANS_TWO open alike, so a
    one-fact training target at that position opens with the same words)."""
    return PLAN_OPENINGS[position % len(PLAN_OPENINGS)]


def _folded(text: str) -> str:
    return " ".join(text.split()).casefold()


def _may_echo(text: str, message: str) -> bool:
    """Whether the sentence so far is still the start of the (folded) message: it may yet read it back."""
    said = _folded(text)
    return bool(said) and message.startswith(said)


def _echoes(text: str, message: str) -> bool:
    """Whether the sentence so far is the message's start and has begun its second word: "A co" of "a co-op game
    under $20" ("A" alone is the first word of a plan too)."""
    return _may_echo(text, message) and " " in _folded(text)


@dataclass(frozen=True)
class Closing:
    """A sentence with room for no other phrase: it ends here (".", or the reply's closing quote)."""

    end: int
    rests: tuple[str, ...] = (".",)

    def allows(self, raw_after: str) -> bool:
        after = text_so_far(raw_after)
        return after is None or text_closed(raw_after) or after[self.end:] in ("", ".")

    def forced(self) -> str:
        return ""


GOING_ON = (" and", ", and")  # ", and" after "…, as you asked", as the sentence plans write it


def _before_going_on(text: str) -> str:
    """The text before a going-on it has begun (" a", ", an"): v16 wrote "It is tagged Shooter, as you asked ." on
    48 of 100 short Steam reasons when the guard let " " through as the start of " and" and then lost the state."""
    for on in GOING_ON:
        for n in range(1, len(on)):
            if text.endswith(on[:n]):
                return text[: -n]
    return text


@dataclass(frozen=True)
class Continuing:
    """A short reason that has said one offered phrase and has room for another goes on with " and", as its training
    targets do wherever two facts fit: v15 ended five e-mail cards' reasons "It is delivered by e-mail." (6 % of
    its Gift Cards terse reasons), where the target goes on "and comes from Cracker Barrel"."""

    end: int
    rests: tuple[str, ...] = GOING_ON

    def allows(self, raw_after: str) -> bool:
        after = text_so_far(raw_after)
        if after is None:
            return True
        tail = after[self.end:]
        return not text_closed(raw_after) and any(on.startswith(tail) or tail.startswith(on) for on in GOING_ON)

    def forced(self) -> str:
        return ""


def _state(copied: str, choices: list[str], closed: bool = False) -> str:
    """"done" once `copied` is a whole value followed by what may end one where the verifier reads values
    (agent/text_checks.py `_AFTER_VALUE`: punctuation, " and", " with", " (", a plan's next word such as " genre"),
    or by the sentence's end; "copying" while it may still become that (a value's start, or a value and the start of
    such an ending: "Amazon eGift" is neither, "Amazon a" may be " and"); else "broken"."""
    states = set()
    for value in choices:
        if value.startswith(copied):
            states.add("done" if closed and copied == value else "broken" if closed else "copying")
        elif copied.startswith(value):
            states.add(_ending(copied[len(value):], closed))
    return next((s for s in ("done", "copying") if s in states), "broken")


def _ending(tail: str, closed: bool) -> str:
    """What the words after a whole value make of it: "done" after a mark, " (" or a whole ending word; "copying"
    while they may still become one."""
    if tail[0] in VALUE_END_MARKS or tail.startswith(" ("):
        return "done"
    for word in VALUE_END_WORDS:
        if tail.startswith(word) and (len(tail) > len(word) and not tail[len(word)].isalnum()
                                      or len(tail) == len(word) and closed):
            return "done"
    return "copying" if not closed and any(w.startswith(tail) for w in (*VALUE_END_WORDS, " (")) else "broken"
