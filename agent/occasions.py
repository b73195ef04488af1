"""Occasions: the ones a shopper names ("a birthday gift") and the ones an item is made for ("Santa Tin").

A pick made for another occasion than the one asked for (a Santa tin for a birthday) ranks after every pick that
is not (agent/rank.py `pick`), and an item made for the named occasion meets the request's occasion facet
(agent/verify.py). Whole words, case-insensitive; pure functions."""

from __future__ import annotations

import re

from index.models import Item

# Occasions a shopper names and the words that mark an item as made for one ("Santa Tin" is a Christmas item).
OCCASIONS: dict[str, tuple[str, ...]] = {
    "birthday": ("birthday", "bday", "cupcake", "happy birthday"),
    "christmas": ("christmas", "xmas", "santa", "holiday", "holidays", "snowman", "snowflake", "reindeer",
                  "ornament", "stocking", "merry", "jingle", "mistletoe"),
    "easter": ("easter",),
    "valentine": ("valentine", "valentines", "valentine's"),
    "halloween": ("halloween", "spooky", "pumpkin"),
    "thanksgiving": ("thanksgiving",),
    "hanukkah": ("hanukkah", "chanukah"),
    "mothers_day": ("mother's day", "mothers day"),
    "fathers_day": ("father's day", "fathers day"),
    "graduation": ("graduation", "graduate", "congrats grad"),
    "wedding": ("wedding", "bride", "newlywed"),
    "baby": ("baby shower", "new baby"),
    "thank_you": ("thank you",),
    "anniversary": ("anniversary",),
    "housewarming": ("housewarming",),
    "retirement": ("retirement",),
}


def occasions_in(text: str) -> set[str]:
    """The occasions `text` names, by the words in OCCASIONS (whole words, case-insensitive)."""
    low = " " + re.sub(r"[^a-z0-9' ]+", " ", text.lower()) + " "
    return {name for name, words in OCCASIONS.items() if any(f" {w} " in low for w in words)}


def off_occasion(item: Item, wanted: set[str]) -> bool:
    """The item is made for another occasion than the one the shopper named (a Santa tin for a birthday)."""
    if not wanted:
        return False
    marked = occasions_in(item.title)
    return bool(marked) and not (marked & wanted)


def made_for(item: Item) -> set[str]:
    """The occasions the item's title or feature bullets name."""
    return occasions_in(" ".join([item.title, *item.values("feature")]))
