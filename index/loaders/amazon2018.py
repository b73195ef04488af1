"""Amazon 2018 (Ni, Li, McAuley 2019): `meta_<Category>.json.gz` plus `<Category>_5.json.gz` (5-core reviews) or
`<Category>.json.gz` (all reviews). When both review files are present the 5-core is used.

Interaction: rating = overall, timestamp = unixReviewTime, review = summary + reviewText. Review `style` values
(`{"Gift Amount:": " 50"}`) become item attributes (`gift_amount` = "50"), most frequent first.
Popularity = the item's interaction count in the reviews file.

What a listing's title says when its fields do not (the 28 "… - E-mail Delivery" gift cards list no brand, price or
feature bullet, only a title and a description):
- `delivery` = "e-mail" when the title says "E-mail Delivery" or "eGift": a trait a shopper's past e-mail cards
  share with it ("is delivered by e-mail");
- `brand` when the listing has none: a brand another listing carries that the title starts with, compared without
  case or punctuation ("Dominos Pizza Gift Cards" -> "Domino's Pizza"), else the whole name before " - E-mail
  Delivery" when it has no other words ("Red Lobster - E-mail Delivery" -> "Red Lobster"); counted as repaired;
- one `feature` when the listing has no bullets: its description's first whole, short sentence (`quotable_sentence`).

What a boxed card comes in (`packaging`): "Amazon.com Gift Card in a Santa Smile Tin" -> "tin", "… in Gold Hearts Box"
-> "gift box", "… in a Polka Dot Reveal" -> "pop-up reveal" (`packaging_in_title`). It is the one thing that tells
the 32 Amazon cards apart, where their brand is the catalogue's commonest, and a trait a shopper's past cards share
("shares its packaging tin with Amazon.com Gift Card in a Santa Smile Tin"). What tells two tins apart is the
`design` the title gives the container ("Santa Smile", "Polka Dot", "Easter Egg": `design_in_title`); the card
design in parentheses is not used ("Classic Black Card Design" is on most of them).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from index.loaders.amazon import (ReviewFields, files_matching, keep_catalogue_interactions, read_catalogue,
                                  read_interactions)
from index.loaders.registry import LoaderSpec, register
from index.models import Dataset, Item, LoadReport
from index.normalise import (Attributes, add_details, add_features, build_text, clean_text, description_text,
                            format_price, is_markup_junk, parse_price, pick_title, quotable_sentence)

SUFFIXES = (".json.gz", ".json")
_EMAIL_DELIVERY = re.compile(r"\bE-mail Delivery\b|\beGift\b", re.I)
_NAME_BEFORE_DELIVERY = re.compile(r"(.+?) - E-mail Delivery", re.I)
_NOT_A_NAME = re.compile(r"\bgift cards?\b", re.I)
_PLACEHOLDER = re.compile(r" Configuration Asin\b")
# "Gift Card in a/an <up to four words> <container>" (not "Jack in the Box Gift Card"): the words -> design, the
# container -> packaging
_PACKAGING = re.compile(r"\bGift Cards? in (?:an? )?((?:[\w&'-]+ ){0,4})"
                        r"(Tin|Gift Box|Box|Reveal|Greeting Card|Gift Tag|Stockings?)\b")
PACKAGING = {"tin": "tin", "gift box": "gift box", "box": "gift box", "reveal": "pop-up reveal",
             "greeting card": "greeting card", "gift tag": "gift tag", "stocking": "holiday stocking",
             "stockings": "holiday stocking"}
REVIEWS = ReviewFields(user="reviewerID", items=("asin",), rating="overall", timestamp="unixReviewTime",
                       summary="summary", text="reviewText")


def review_files(folder: Path) -> list[Path]:
    reviews = files_matching(folder, SUFFIXES, meta=False)
    five_core = [p for p in reviews if p.name.split(".json")[0].endswith("_5")]
    return five_core or reviews


def data_files(folder: Path) -> list[Path]:
    meta = files_matching(folder, SUFFIXES, meta=True)
    return meta + review_files(folder) if meta else []


def categories(raw: Any) -> list[str]:
    """The category breadcrumb. In 2018 feature sentences and stray `</span>` tags leaked into the end of some
    lists, so the breadcrumb ends at the first entry that is markup or reads like a sentence."""
    out: list[str] = []
    for entry in raw if isinstance(raw, list) else []:
        if not isinstance(entry, str) or is_markup_junk(entry):
            break
        value = clean_text(entry)
        if not value or len(value) > 60 or value.endswith("."):
            break
        if value not in out:
            out.append(value)
    return out


def build_item(record: dict[str, Any], item_id: str, source: str, report: LoadReport,
               style: list[tuple[str, str]]) -> Item | None:
    title, reason = pick_title([("title", record.get("title"))])
    if title is None:
        report.skipped[f"meta_{reason}"] += 1
        return None
    if reason:
        report.repaired[f"meta_{reason}"] += 1
    if _PLACEHOLDER.search(title):  # "Petco Gift Cards Configuration Asin - E-mail Delivery": a listing tool's word
        title = _PLACEHOLDER.sub("", title)
        report.repaired["meta_title_placeholder"] += 1
    attributes = Attributes()
    attributes.add("brand", record.get("brand"))
    price, unparsed = parse_price(record.get("price"))
    if unparsed:
        report.repaired["meta_unparsed_price"] += 1
    if price is not None:
        attributes.add("price", format_price(price))
    attributes.add_all("category", categories(record.get("category")))
    add_details(attributes, record.get("details"))
    for key, value in style:
        attributes.add(key, value)
    if _EMAIL_DELIVERY.search(title):
        attributes.add("delivery", "e-mail")
    attributes.add("packaging", packaging_in_title(title))
    attributes.add("design", design_in_title(title))
    add_features(attributes, record.get("feature"))
    if not attributes.values("feature"):
        attributes.add("feature", quotable_sentence(record.get("description")))
    text = build_text(title, attributes, description_text(record.get("description")))
    return Item(item_id=item_id, title=title, text=text, attributes=attributes.pairs, price=price, source=source)


def packaging_in_title(title: str) -> str | None:
    """What the title says the card comes in ("… in a Birthday Cupcake Tin" -> "tin"), else None."""
    match = _PACKAGING.search(title)
    return PACKAGING[match.group(2).lower()] if match else None


def design_in_title(title: str) -> str | None:
    """The container's design the title names ("… in a Santa Smile Tin" -> "Santa Smile"), else None ("… in a
    Greeting Card")."""
    match = _PACKAGING.search(title)
    return (re.sub(r"\s*\bGift$", "", match.group(1).strip()) or None) if match else None  # "Black Gift" Box


def _plain(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "", text.lower())


def brand_in_title(title: str, brands: dict[str, str]) -> str | None:
    """The brand a title names (`brands`: plain spelling -> the brand as listings spell it), longest first; else
    the whole name before " - E-mail Delivery" when it is only a name."""
    words = title.split()
    for n in range(len(words), 0, -1):
        if (brand := brands.get(_plain(" ".join(words[:n])))) is not None:
            return brand
    match = _NAME_BEFORE_DELIVERY.fullmatch(title)
    return match.group(1) if match and not _NOT_A_NAME.search(match.group(1)) else None


def add_title_brands(items: list[Item], report: LoadReport) -> list[Item]:
    """Items whose listing names no brand get the one their title names (see the module docstring)."""
    brands = {_plain(b): b for item in items for b in item.values("brand")}
    out = []
    for item in items:
        brand = None if item.first("brand") else brand_in_title(item.title, brands)
        if brand is not None:
            item = item.model_copy(update={"attributes": [("brand", brand), *item.attributes]})
            report.repaired["meta_brand_from_title"] += 1
        out.append(item)
    return out


def load(folder: Path, name: str) -> Dataset:
    report = LoadReport(dataset=name)
    reviews = review_files(folder)
    interactions, styles = read_interactions(reviews, report, REVIEWS)
    wanted = {i.item_id for i in interactions} if reviews else None
    items = read_catalogue(files_matching(folder, SUFFIXES, meta=True), report, ("asin",),
                           lambda record, item_id, style: build_item(record, item_id, name, report, style),
                           wanted, styles)
    items = add_title_brands(items, report)
    interactions = keep_catalogue_interactions(interactions, items, report)
    return Dataset(name=name, items=items, interactions=interactions, report=report)


SPEC = register(LoaderSpec(
    name="amazon2018",
    description="Amazon reviews 2018: 5-core or full reviews with item metadata",
    file_patterns="meta_<Category>.json[.gz] + <Category>_5.json[.gz] or <Category>.json[.gz]",
    has_interactions=True,
    data_files=data_files,
    load=load,
))
