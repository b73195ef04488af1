"""Kinds of item: what a catalogue entry IS (a game, its soundtrack, an artbook, other DLC, software, a video), read
from the catalogue's own fields, and the kinds a shopper asks for.

Steam files soundtracks, artbooks, expansions and costume packs as items beside the games, with the game's genres
("Underdone - Soundtrack": Action, Adventure, RPG): a request for "an RPG with a great story" finds them all. A
pick of another kind than the one asked for (a soundtrack for a game) ranks after every pick that is not
(agent/rank.py `pick`) unless nothing else fits. Evidence, strongest first: the spec "Downloadable Content" (then
the title names a soundtrack or art book, or the tag Soundtrack, says which DLC); a software genre or a Movie /
Documentary tag with no game genre at all. A title alone is weak evidence and decides nothing on its own. An item
with none of these fields (every Amazon item) is of kind "game" here, i.e. no kind to avoid. Pure functions."""

from __future__ import annotations

import re

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
