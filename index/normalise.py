"""Turning raw catalogue fields into clean, short, citable values.

Attribute values are cited verbatim in claims and later checked against the raw metadata, so every value here is the
raw field with only these changes: HTML entities unescaped, tags removed, whitespace collapsed, ends stripped (and
feature bullets cut to their first sentence). Nothing is paraphrased.
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Iterable
from typing import Any

MAX_VALUE_CHARS = 120  # longer values are prose, not attributes: they go to `text`, never to `attributes`
MAX_TITLE_CHARS = 400
MAX_TEXT_CHARS = 1000
MAX_DESCRIPTION_CHARS = 300
MAX_FEATURES = 5

_STYLE_OR_SCRIPT = re.compile(r"<(style|script)\b.*?</\1\s*>", re.S | re.I)
_TAG = re.compile(r"<[a-zA-Z/!][^>]*(?:>|$)")  # also a tag cut off at the end; "a < b" is left alone
_WHITESPACE = re.compile(r"\s+")
_CSS_RULE = re.compile(r"[#.\w-]+\s*\{[^}]*:[^}]*\}")  # `.a-box{color:#fff}`: page CSS that leaked into a field
# a sentence ends at . ! ? but not after an initial ("T.G.I.") or an abbreviation ("ADVANCED AMINO vs. BCAA'S")
_SENTENCE_END = re.compile(r"(?<=[.!?])(?<!\.[A-Z]\.)(?<!\bvs\.)(?<!\bDr\.)(?<!\bNo\.)(?<!\bSt\.)(?<!\bMr\.)(?<!\bMs\.)"
                           r"(?<!\bMrs\.)(?<!\boz\.)(?<!\bapprox\.)\s+", re.I)
_MONEY = re.compile(r"\$?\s*(\d[\d,]*(?:\.\d+)?)")
_YEAR = re.compile(r"\b(19[5-9]\d|20\d\d)\b")
_PARENTHETICAL = re.compile(r"\([^)]*\)")
_NON_WORD = re.compile(r"[^a-z0-9]+")


def clean_text(raw: Any) -> str:
    """Unescape entities (`&amp;`, `&#39;`), drop tags and inline CSS/JS, collapse whitespace. None -> ""."""
    if raw is None:
        return ""
    text = raw if isinstance(raw, str) else str(raw)
    if _is_plain(text):
        return text
    if "<" in text:
        text = _TAG.sub(" ", _STYLE_OR_SCRIPT.sub(" ", text))
    text = html.unescape(text)
    if "<" in text:  # escaped markup (`&lt;b&gt;`) becomes markup only after unescaping
        text = _TAG.sub(" ", text)
    return _WHITESPACE.sub(" ", text).strip()


def _is_plain(text: str) -> bool:
    """Nothing to clean (the common case, checked with fast substring tests before any regex runs)."""
    return (text == text.strip() and "<" not in text and "&" not in text and "  " not in text
            and "\n" not in text and "\t" not in text and "\r" not in text)


def is_markup_junk(raw: str) -> bool:
    """A field that holds page markup instead of a value: starts with a tag, or is (mostly) CSS rules."""
    stripped = raw.strip()
    return stripped.startswith("<") or ("{" in stripped and bool(_CSS_RULE.search(stripped)))


def _usable_title(title: str) -> bool:
    return 0 < len(title) <= MAX_TITLE_CHARS and any(ch.isalnum() for ch in title) and not _CSS_RULE.search(title)


def pick_title(candidates: Iterable[tuple[str, Any]]) -> tuple[str | None, str | None]:
    """The first usable title among `(field, raw)` candidates, primary field first.

    Returns `(title, reason)`. `reason` is None for a clean primary title, `"title_html_stripped"` when a markup
    title (`<span ...>Name</span>`) still had text once the tags were removed, `"title_from_<field>"` when a later
    field stood in. With no usable candidate `title` is None and `reason` is `"broken_title"` if some candidate held
    markup junk, else `"missing_title"`.
    """
    saw_junk = False
    for position, (field, raw) in enumerate(candidates):
        if not isinstance(raw, str) or not raw.strip():
            continue
        title = clean_text(raw)
        if is_markup_junk(raw):
            saw_junk = True
            if _usable_title(title):
                return title, "title_html_stripped"
            continue
        if _usable_title(title):
            return title, None if position == 0 else f"title_from_{field}"
        saw_junk = True
    return None, "broken_title" if saw_junk else "missing_title"


def parse_price(raw: Any) -> tuple[float | None, bool]:
    """A price in USD from a number or a string (`"$1,299.00"` -> 1299.0, `"Starting at $499.00"` -> 499.0).

    Text that says the item is free (`"Free to Play"`, `"Free"`, `"Play for Free!"`) is 0.0. Returns
    `(price, unparsed)`: `unparsed` is True when a non-empty value could not be read (the item keeps price None).
    Empty strings and None are simply unknown: `(None, False)`.
    """
    if raw is None or isinstance(raw, bool):
        return None, raw is not None
    if isinstance(raw, int | float):
        value = float(raw)
        return (value, False) if math.isfinite(value) and value >= 0 else (None, True)
    if not isinstance(raw, str):
        return None, True
    text = clean_text(raw)
    if not text:
        return None, False
    if re.search(r"\bfree\b", text, re.I):
        return 0.0, False
    match = _MONEY.search(text) if "$" in text or text[0].isdigit() else None
    if match is None or _CSS_RULE.search(text):
        return None, True
    return float(match.group(1).replace(",", "")), False


def format_price(price: float) -> str:
    """The attribute value of a price: `"$1,250.00"` (Amazon's own format) or `"Free"` for 0."""
    return "Free" if price == 0 else f"${price:,.2f}"


def canonical_key(raw_key: str) -> str:
    """`"\\n    Product Dimensions: \\n    "` -> `product_dimensions`; `"Age Range (Description)"` -> `age_range`."""
    key = _PARENTHETICAL.sub(" ", raw_key.strip().rstrip(":").lower())
    return _NON_WORD.sub("_", key).strip("_")


def short_value(raw: Any, limit: int = MAX_VALUE_CHARS) -> str | None:
    """A clean attribute value, or None when it is empty, markup junk, not a scalar or longer than `limit`."""
    if raw is None or isinstance(raw, dict | list | tuple | set):
        return None
    if isinstance(raw, bool):
        return "yes" if raw else None
    if isinstance(raw, str) and is_markup_junk(raw):
        return None
    value = clean_text(raw)
    return value if 0 < len(value) <= limit else None


def trim_feature(raw: Any, limit: int = MAX_VALUE_CHARS) -> str | None:
    """A feature bullet as an attribute: its first sentence, or its first `limit` chars cut at a word boundary.

    The result is always a prefix of the cleaned bullet (no ellipsis added), so it stays traceable to the raw text.
    """
    text = clean_text(raw) if isinstance(raw, str) else ""
    if not text:
        return None
    first = _SENTENCE_END.split(text, maxsplit=1)[0]
    if len(first) <= limit:
        return first
    cut = first[:limit]
    if " " in cut:
        cut = cut[: cut.rindex(" ")]
    return cut.rstrip(" ,;:-") or None


def release_year(raw: Any) -> str | None:
    """`"2018-01-04"`, `"Jun 2009"` -> the 4-digit year; `"Soon.."` -> None."""
    match = _YEAR.search(raw) if isinstance(raw, str) else None
    return match.group(1) if match else None


def description_text(raw: Any, limit: int = MAX_DESCRIPTION_CHARS) -> str:
    """Description paragraphs (a list or one string) as one clean, short snippet for the embedded text."""
    parts = raw if isinstance(raw, list | tuple) else [raw]
    text = " ".join(clean_text(p) for p in parts if isinstance(p, str))
    return cap_words(text, limit)


def quotable_sentence(raw: Any, limit: int = MAX_VALUE_CHARS) -> str | None:
    """A description's first sentence when it is whole (ends in "." or "!"), has five words or more and fits
    `limit`: a listing with no feature bullets may be quoted by it. None otherwise: a longer lead is never cut to
    fit, and a later sentence is no lead ("For locations, visit us at www.olivegarden.com.")."""
    first = _SENTENCE_END.split(description_text(raw), maxsplit=1)[0]  # a lead cut at 300 chars is too long anyway
    return first if len(first) <= limit and first.endswith((".", "!")) and len(first.split()) >= 5 else None


def cap_words(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = text[:limit]
    return cut[: cut.rindex(" ")] if " " in cut else cut


class Attributes:
    """Ordered (key, value) pairs without repeats (case-insensitive per key); values must pass `short_value`."""

    def __init__(self) -> None:
        self.pairs: list[tuple[str, str]] = []
        self._seen: set[tuple[str, str]] = set()

    def add(self, key: str, raw: Any) -> None:
        value = short_value(raw)
        if value is None or (key, value.lower()) in self._seen:
            return
        self._seen.add((key, value.lower()))
        self.pairs.append((key, value))

    def add_all(self, key: str, raws: Any) -> None:
        """Each value of a list field (a bare string counts as a one-element list)."""
        for raw in [raws] if isinstance(raws, str) else raws if isinstance(raws, list | tuple) else []:
            self.add(key, raw)

    def values(self, key: str) -> list[str]:
        return [v for k, v in self.pairs if k == key]


# Detail keys that are logistics or identifiers, not something a shopper would be told as a reason.
IGNORED_DETAIL_KEYS = frozenset({
    "asin", "upc", "item_model_number", "model_number", "date_first_available", "date_first_listed_on_amazon",
    "is_discontinued_by_manufacturer", "discontinued_by_manufacturer", "domestic_shipping", "international_shipping",
    "best_sellers_rank", "customer_reviews", "shipping_weight", "brand", "reminder", "is_product_expirable",
})


def add_details(attributes: Attributes, details: Any) -> None:
    """Amazon `details{}` as attributes under canonical keys (`Item Form` -> item_form), in source order."""
    if not isinstance(details, dict):
        return
    for raw_key, raw_value in details.items():
        key = canonical_key(raw_key) if isinstance(raw_key, str) else ""
        if key and key not in IGNORED_DETAIL_KEYS:
            attributes.add(key, raw_value)


def add_features(attributes: Attributes, raw: Any, limit: int = MAX_FEATURES) -> None:
    bullets = raw if isinstance(raw, list | tuple) else []
    for bullet in bullets:
        if len(attributes.values("feature")) >= limit:
            break
        attributes.add("feature", trim_feature(bullet))


# Attribute keys named in the embedded text, in this order, with how many values each contributes.
TEXT_KEYS = (("brand", 1), ("category", 3), ("genre", 4), ("developer", 1), ("publisher", 1), ("tag", 8),
             ("item_form", 1), ("flavor", 1), ("material", 1), ("diet_type", 1), ("special_feature", 1))


def build_text(title: str, attributes: Attributes, description: str = "", limit: int = MAX_TEXT_CHARS) -> str:
    """What gets embedded: title, the identifying attributes, a few feature bullets, a short description."""
    by_key: dict[str, list[str]] = {}
    for key, value in attributes.pairs:
        by_key.setdefault(key, []).append(value)
    parts = [title]
    for key, count in TEXT_KEYS:
        values = by_key.get(key, [])[:count]
        if values:
            parts.append(f"{key.replace('_', ' ').capitalize()}: {', '.join(values)}")
    features = by_key.get("feature", [])[:3]
    if features:
        parts.append("Features: " + "; ".join(features))
    if description:
        parts.append(description)
    return cap_words(". ".join(p.rstrip(". ") for p in parts if p), limit)
