"""Kinds of item: what a catalogue entry IS (a game, its soundtrack, an artbook, other DLC, software, a video), read
from the catalogue's own fields, and the kinds a shopper asks for.

Steam files soundtracks, artbooks, expansions and costume packs as items beside the games, with the game's genres
("Underdone - Soundtrack": Action, Adventure, RPG): a request for "an RPG with a great story" finds them all. A
pick of another kind than the one asked for (a soundtrack for a game) ranks after every pick that is not
(agent/rank.py `pick`) unless nothing else fits. Evidence, strongest first: the spec "Downloadable Content" (then
the title names a soundtrack or art book, or the tag Soundtrack, says which DLC); a software genre or a Movie /
Documentary tag with no game genre at all. A title alone is weak evidence and decides nothing on its own. An item
with none of these fields (every Amazon item) is of kind "game" here, i.e. no kind to avoid.

An Amazon catalogue's kinds are its products' names instead: `product_asked` reads the product a request names
("an electric toothbrush" -> toothbrush) and `ProductKind.matches` whether an item's title or form says it is one;
agent/select.py makes sure those items are among the candidates (or says there are none) and agent/rank.py `pick`
shows them first. An animal's product (`for_animals`: "for Dogs", a flowerhorn fish's multivitamin) comes after the
rest unless the shopper names an animal. Pure functions."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from agent.request import stem
from index.models import Item

GAME, DLC, SOUNDTRACK, ARTBOOK, SOFTWARE, VIDEO = "game", "dlc", "soundtrack", "artbook", "software", "video"
_DLC_SPEC = "downloadable content"
_GAME_GENRES = frozenset({"action", "adventure", "casual", "rpg", "strategy", "simulation", "sports", "racing",
                          "massively multiplayer"})
_SOFTWARE_GENRES = frozenset({"design & illustration", "utilities", "web publishing", "animation & modeling",
                              "video production", "audio production", "software training", "education",
                              "photo editing", "accounting", "game development", "software"})
_VIDEO_TAGS = frozenset({"movie", "documentary"})
_SOUNDTRACK_TITLE = re.compile(r"\b(?:soundtracks?|OST|original score|music (?:pack|collection))\b", re.I)
_ARTBOOK_TITLE = re.compile(r"\b(?:art ?books?|art ?booklet|artworks?|digital book|wallpapers?)\b", re.I)

# The words a shopper asks for a kind with. Every soundtrack and artbook is DLC, so asking for DLC allows them.
_ASKED = {
    SOUNDTRACK: re.compile(r"\b(?:soundtracks?|OSTs?|game music)\b", re.I),
    ARTBOOK: re.compile(r"\b(?:art ?books?|artworks?|digital books?|wallpapers?)\b", re.I),
    DLC: re.compile(r"\b(?:dlcs?|expansions?|add-?ons?|downloadable content|season pass|expansion pack|"
                    r"map packs?|skins?|costumes?)\b", re.I),
    SOFTWARE: re.compile(r"\b(?:software|tools?|apps?|applications?|programs?|editors?|utilit(?:y|ies))\b", re.I),
    VIDEO: re.compile(r"\b(?:movies?|films?|documentar(?:y|ies)|videos?(?!\s*games?))\b", re.I),
}
_INCLUDES = {DLC: {DLC, SOUNDTRACK, ARTBOOK}}
# "an RPG with a great soundtrack", "a game with DLC": a kind word after "with" describes the game asked for.
_DESCRIBES = re.compile(r"\bwith\s+(?:\w+\s+){0,3}$", re.I)


def _values(item: Item, *keys: str) -> set[str]:
    return {v.strip().casefold() for k, v in item.attributes if k in keys}


def item_kind(item: Item) -> str:
    """What the item is, from its specs, genres and tags (the title only says which kind of DLC)."""
    genres, tags = _values(item, "genre"), _values(item, "tag")
    if _DLC_SPEC in _values(item, "spec"):
        if _SOUNDTRACK_TITLE.search(item.title) or "soundtrack" in tags:
            return SOUNDTRACK
        if _ARTBOOK_TITLE.search(item.title):
            return ARTBOOK
        return DLC
    if not genres & _GAME_GENRES:
        if (genres | tags) & _SOFTWARE_GENRES:
            return SOFTWARE
        if (genres | tags) & _VIDEO_TAGS:
            return VIDEO
    return GAME


def kinds_asked(text: str) -> set[str]:
    """The kinds `text` asks for by name ("a soundtrack", "DLC for Terraria"); empty for a plain request (a game).
    A kind named as a trait of the game ("with a great soundtrack") is not asked for."""
    asked: set[str] = set()
    for kind, pattern in _ASKED.items():
        if any(not _DESCRIBES.search(text[: m.start()]) for m in pattern.finditer(text)):
            asked |= _INCLUDES.get(kind, {kind})
    return asked


def off_kind(item: Item, wanted: set[str]) -> bool:
    """The item is of another kind than the shopper asked for: not a game when no kind was named, not one of the
    named kinds otherwise."""
    return item_kind(item) not in (wanted or {GAME})


# -- product kinds: the thing an Amazon shopper names ("an electric toothbrush", "a multivitamin") -----------------
# An Amazon catalogue has no kind fields: what a product IS lives in its title ("Koral Natural Toothpaste with
# Vitamin C", "Colossus Infinite Red flowerhorn multivitamin") and in forms such as item_form/primary_supplement_type.
# The kind a request names is its head noun: the last word of its first noun phrase, after an article and before
# a budget, "for …", "with …", "like …" or a comma. Nothing is read when the phrase has no article and is one
# singular word ("scary", "cheaper"), starts with a placeholder ("something relaxing", "a vegan one") or ends in
# a word that names no product ("gift", "game", "idea").
_LEAD = re.compile(r"^\s*(?:(?:hi|hello|hey|please|ok|okay)\b[\s,!]*)*(?:(?:i|we)\s*(?:['’]d|would)?\s*(?:need|want|"
                   r"like|am looking for|['’]m looking for|are looking for)|looking for|searching for|show me|"
                   r"find me|get me|recommend(?:\s+me)?|give me|suggest|(?:make|change) (?:it|that|this)(?: (?:in)?to)?)"
                   r"\b\s*", re.I)
_ARTICLE = re.compile(r"^(?:an?|some|any|the|one|two|three|a pair of|a pack of|a set of|a few|a couple of)\s+", re.I)
_PHRASE_END = re.compile(r"\s+(?:under|below|over|above|less|more|cheaper|between|for|with|without|w/|like|similar|"
                         r"that|which|from|by|in|to|at|on|of|not|no|but|and|or|please|around|about|within|up|as|"
                         r"than|except|made|i|if|so|because|plus|containing|instead|too|also|then|now|again|"
                         r"either|anyway|thanks)\b|\s*[,.;:!?()|/]|\s+[$\d]", re.I)
# A request that starts with a preposition describes the item asked for before ("in a tin instead", "for my
# nephew", "under $50", "like Terraria"): it names no product of its own.
_DESCRIBES_ONLY = re.compile(r"^(?:in|inside|for|with|without|under|below|over|above|like|from|by|on|at|to|as|"
                             r"than|around|about|within|between)\b", re.I)
# Words that name no product: placeholders, what every request is (a gift, a game), and judgements.
_NO_PRODUCT = frozenset(
    "something anything stuff thing things one ones item items product products gift gifts present presents idea "
    "ideas option options pick picks recommendation recommendations suggestion suggestions choice else game games "
    "more less other another different similar same new cheap cheaper cheapest good better best great nice decent "
    "top quality affordable inexpensive budget pricier expensive what which who how why should would could can "
    "next".split())  # "what should I get next?" names no product
# A class word after the product's name ("a magnesium supplement"): the name says more.
_CLASS_NOUNS = frozenset("supplement supplements product products formula formulas kit kits set sets pack packs "
                         "brand brands".split())
_ADJECTIVES = frozenset("cheap cheapest good better best great nice decent top quality affordable inexpensive budget "
                        "simple basic new".split())
_WORD = re.compile(r"[a-z][a-z0-9'’-]*")
# What a title says the product is, not what it holds or suits: "Protein Shake with Multivitamins" is no
# multivitamin, "Pill Organizer for Vitamins, Fish Oil" no fish oil.
_NOT_WHAT_IT_IS = re.compile(r"\b(?:with|w/|plus|infused|containing|contains|featuring|for|to hold|holds?)\b.*$",
                             re.I)
_TITLE_PARTS = re.compile(r"\s*(?:[,|;:–—]|\s-\s|\+)\s*")
_KIND_KEYS = ("item_form", "primary_supplement_type", "category")

# An animal's product: said outright ("for Dogs", "Pet Pill Organizer … for Cat") or by a word only animal products
# use ("flowerhorn multivitamin", a fish's). Ranked after the rest unless the shopper names an animal.
_FOR_ANIMALS = re.compile(r"\b(?:for\s+(?:your\s+)?(?:dogs?|cats?|pets?|pupp(?:y|ies)|kittens?|horses?|birds?|fish|"
                          r"parrots?|rabbits?)|pet\s+(?:pills?|vitamins?|supplements?|medicine)|flowerhorns?|cichlids?|"
                          r"aquariums?|k9|canines?|felines?|equine|veterinary|livestock|poultry)\b", re.I)
_ANIMAL_ASKED = re.compile(r"\b(?:dogs?|cats?|pets?|pupp(?:y|ies)|kittens?|horses?|birds?|fish(?!\s*oil)|parrots?|"
                           r"rabbits?|flowerhorns?|cichlids?|aquariums?|k9|canines?|felines?|equine|veterinary)\b",
                           re.I)


def _fold(word: str) -> str:
    """One spelling for British and American forms: "moisturiser"/"moisturizer", "flavour"/"flavor"."""
    return stem(word.replace("’", "'")).replace("is", "iz").replace("our", "or")


def _stems(text: str) -> list[str]:
    return [_fold(w) for w in _WORD.findall(text.lower())]


@dataclass(frozen=True)
class ProductKind:
    """The product a request names: `phrase` in the shopper's words ("electric toothbrush"), `head` the noun that
    decides what matches ("toothbrush", singular)."""

    phrase: str
    head: str
    bare: bool = False  # one word without an article ("melatonin for sleep"): a product only where titles say so
    # the word before the head ("heating" of "heating pad"): required too, else "Depuffing Cooling Eye Pads" was
    # the one heating pad of a catalogue that has none
    modifier: str = ""

    def matches(self, item: Item) -> bool:
        """The item is one: its title names the head (and the modifier, if any) as what it is (not in a "with …"/
        "for …" part), or its form or supplement type does ("Multivitamins")."""
        words = _kind_words(item)
        return self.head in words and (not self.modifier or self.modifier in words)


def _kind_words(item: Item) -> set[str]:
    words: set[str] = set()
    for part in _TITLE_PARTS.split(item.title):
        words.update(_stems(_NOT_WHAT_IT_IS.sub("", part)))
    for key, value in item.attributes:
        if key in _KIND_KEYS:
            words.update(_stems(value))
    return words


def product_asked(text: str, named: Iterable[str] = ()) -> ProductKind | None:
    """The product kind `text` (a request, negated clauses already cut; its first line) names, or None. `named`:
    the catalogue values the request already asks for (a flavor, a form, a genre, a brand): a head that is one of
    them is that constraint's business, and the word before it names the kind ("vegan protein powder": form Powder,
    kind protein)."""
    text = _LEAD.sub("", text.strip().splitlines()[0] if text.strip() else "")
    article = _ARTICLE.match(text)
    rest = text[article.end():] if article else text
    if _DESCRIBES_ONLY.match(rest):
        return None
    words = _WORD.findall(_PHRASE_END.split(rest, maxsplit=1)[0].lower())
    words = [w for w in words if w not in _ADJECTIVES] if words and words[-1] not in _ADJECTIVES else words
    while len(words) > 1 and words[-1] in _CLASS_NOUNS:
        words = words[:-1]
    if not words or words[0] in _NO_PRODUCT or words[-1] in _NO_PRODUCT or len(words[-1]) < 3:
        return None
    # one singular word without an article is an adjective as often as a product ("scary", "melatonin"): the
    # catalogue decides (agent/select.py `product_kind`)
    bare = not article and len(words) == 1 and stem(words[-1]) == words[-1]
    phrase, forms = " ".join(words[-3:]), {"".join(_stems(v)) for v in named}
    # a head the request asks for as a value ("vegan protein powder": form Powder) is that constraint's business;
    # the word before it names the product ("protein"), unless it is asked for too ("vegan powder")
    while words and ("".join(_fold(w) for w in words) in forms or _fold(words[-1]) in forms):
        words = words[:-1]
    if not words or words[-1] in _NO_PRODUCT or len(words[-1]) < 3:
        return None
    before = words[-2] if len(words) > 1 else ""
    modifier = _fold(before) if len(before) >= 3 and before not in _NO_PRODUCT and _fold(before) not in forms else ""
    return ProductKind(phrase=phrase, head=_fold(words[-1]), bare=bare, modifier=modifier)


def for_animals(item: Item) -> bool:
    return bool(_FOR_ANIMALS.search(item.title))


def animals_asked(text: str) -> bool:
    return bool(_ANIMAL_ASKED.search(text))
