"""Candidates that meet the active constraints, and honest relaxation when none do.

Every constraint is hard: a pick meets all of them, or the answer says which one was relaxed and how (a
`Relaxation` and a note). Exclusions ("not Amazon", "not early access") are never relaxed. An item with no listed
price neither passes a budget silently nor vanishes silently: it is shown only with a note that names it, and
matching unpriced items left out are counted in a note."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from weakref import WeakKeyDictionary

from agent.catalogue import Catalogue, normalise
from agent.kinds import GAME, ProductKind, item_kind, product_asked
from agent.request import MATCHED_KEYS, Facet, Request, stem
from agent.schemas import Relaxation
from agent.text_quality import without_parenthetical
from index.models import Item
from index.retrieve import Candidate, Filters

# Keys one constraint value is looked up under: Steam files one word as genre, tag or spec; an Amazon form may be
# filed as item form or dosage form.
_LOOKUP = {"genre": ("genre", "tag", "spec"), "tag": ("genre", "tag", "spec"), "spec": ("genre", "tag", "spec"),
           "item_form": ("item_form", "dosage_form"), "flavor": ("flavor",), "diet_type": ("diet_type",),
           "delivery": ("delivery",), "packaging": ("packaging",), "brand": ("brand",)}
# Who makes or sells an item, under whichever key the dataset files it: "not Amazon" rules out brand 'Amazon Basics'
# and manufacturer 'Amazon.com Services LLC.' (H&PC), "not Ubisoft" a game Ubisoft developed OR published (Steam).
MAKERS = ("brand", "manufacturer", "developer", "publisher")
MAKER_EXCLUSIONS = {f"exclude_{k}" for k in MAKERS}
_TITLE_COUNTS = ("flavor", "item_form", "diet_type")  # an exclusion of these also rules out a title that names it
# the positive, relaxable keys
_RELAX_ORDER = ("tag", "spec", "genre", "flavor", "item_form", "diet_type", "packaging", "delivery", "brand")
Search = Callable[[str, Filters, int], list[Candidate]]
KIND_SHARE = 0.5  # a product kind at least this share of the catalogue is (a gift card, on Gift Cards) picks nothing
BARE_KIND_MIN = 3  # a one-word request ("melatonin for sleep") names a product when this many titles say they are one
# Beside too few items of the asked product, another product is shown only at this share of the best match's cosine
# similarity to the request. Measured on H&PC: "a gentle toothpaste for sensitive teeth" (best toothpaste 0.54)
# brings orthodontic wax 0.49 and a teeth-whitening soda 0.43 (0.80-0.90 of it); the same "under $15" (best 0.51)
# brought immune syrup, iron gummies and eye vitamins at 0.29-0.33 (0.58-0.66); "an unscented moisturiser" (best
# 0.49) an unscented body oil 0.57 and baby oil 0.39 (0.80).
RELATED_SHARE = 0.7


def _words(text: str) -> list[str]:
    return [stem(w) for w in normalise(text).split()]


def value_matches(wanted: str, have: str) -> bool:
    """'Chocolate' matches 'Chocolate Fudge'; 'Powder' matches 'Capsules, Powder'; 'co-op' matches 'Online Co-Op';
    'Gummies' matches 'Gummy': every (singular) word of the wanted value is in one comma part of the item's value."""
    words = set(_words(wanted))
    return bool(words) and any(words <= set(_words(part)) for part in have.split(","))


def _in_title(value: str, item: Item) -> bool:
    return f" {' '.join(_words(value))} " in f" {' '.join(_words(item.title))} "


def has_value(item: Item, key: str, value: str) -> bool:
    """The item has the value under the key (or a key filed alike); a flavor, form or diet also counts when the
    title names it ('Vegan Protein Powder' is vegan and a powder even where the fields are empty)."""
    keys = _LOOKUP.get(key, (key,))
    if any(k in keys and value_matches(value, v) for k, v in item.attributes):
        return True
    if key in _TITLE_COUNTS and _in_title(value, item):
        return True
    if "genre" in keys and normalise(value) == "early access":  # Steam also flags early access on its own
        return any(k == "early_access" and normalise(v) in ("true", "1", "yes") for k, v in item.attributes)
    return False


def meets(facet: Facet, item: Item) -> bool | None:
    """Does the item meet this constraint? None when it cannot be told (a budget and no listed price)."""
    key = facet.key
    if key in ("price_max", "price_min"):
        if item.price is None:
            return None
        limit = float(facet.value)
        return item.price <= limit + 1e-9 if key == "price_max" else item.price >= limit - 1e-9
    if key in MAKER_EXCLUSIONS:  # the title counts too: 'Amazon eGift Card' may have no brand field at all
        named = f" {normalise(facet.value)} " in f" {normalise(item.title)} "
        return not (named or any(has_value(item, k, facet.value) for k in MAKERS))
    if key == "brand":
        return any(k == "brand" and normalise(v) == normalise(facet.value) for k, v in item.attributes)
    if key.startswith("exclude_"):
        # ruled out anywhere: 'not Gummy' whether the item files it as form or flavor, or names it in the title
        return not any(has_value(item, k, facet.value) for k in (key.removeprefix("exclude_"), *_LOOKUP))
    if key in _LOOKUP:
        return has_value(item, key, facet.value)
    return True  # like_item, occasion: what to search for, not a filter


def is_hard(facet: Facet) -> bool:
    return facet.key not in ("like_item", "occasion")


def product_keys(item: Item) -> set[tuple]:
    """What makes two ids one product, as keys: the same title, or the same brand and price and the same title but
    for a parenthetical ("… Holiday Tin (Santa Design)" / "(Snowman Design)"; a Santa tin and a birthday cupcake
    tin at $25 are two products, both shown to a shopper who asks for a tin). Two items are one product when they
    share a key (a set lookup per candidate, not a comparison with every kept one)."""
    title = normalise(item.title)
    keys: set[tuple] = {("title", title)}
    if (brand := item.first("brand")) is not None and item.price is not None:
        keys.add(("brand, price, title", brand, item.price, normalise(without_parenthetical(item.title))))
    return keys


def same_product(a: Item, b: Item) -> bool:
    return bool(product_keys(a) & product_keys(b))


@dataclass
class Selection:
    items: list[Candidate] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    relaxed: list[Relaxation] = field(default_factory=list)


def _labels(facets: list[Facet]) -> str:
    return ", ".join(f.label for f in facets) or "your request"


def select(request: Request, search: Search, catalogue: Catalogue, exclude_ids: list[str], n: int, k: int) -> Selection:
    """Up to `n` candidates, best first, each meeting every hard constraint or covered by a stated relaxation."""
    hard = [f for f in request.facets if is_hard(f)]
    price = [f for f in hard if f.key in ("price_max", "price_min")]
    other = [f for f in hard if f not in price]

    def find(facets: list[Facet], with_price: bool, unpriced: bool = False, limit: int = n,
             where: Callable[[Item], bool] | None = None) -> list[Candidate]:
        """Items meeting `facets` (raw catalogue values), most similar first. `unpriced`: only items with no
        listed price; `where`: only items it holds for. Widens the index search until enough pass or the
        catalogue is exhausted."""
        filters = Filters(
            price_max=request.price_max() if with_price and not unpriced and any(f.key == "price_max" for f in facets) else None,
            price_min=request.price_min() if with_price and not unpriced and any(f.key == "price_min" for f in facets) else None,
            exclude_brands=[f.value for f in facets if f.key == "exclude_brand"],
            exclude_ids=sorted(set(exclude_ids)))
        want = [f for f in facets if f.key not in ("price_max", "price_min")]
        size, total = max(limit, 50), max(len(catalogue.items), 1)
        while True:
            found = search(request.search, filters, size)
            kept: list[Candidate] = []
            kept_products: set[tuple] = set()
            for c in found:
                item = _listed(c, catalogue)
                if (unpriced and item.price is not None) or (where is not None and not where(item)):
                    continue
                if all(meets(f, item) for f in want) and not (keys := product_keys(item)) & kept_products:
                    kept.append(c)
                    kept_products |= keys
            if len(kept) >= limit or len(found) < size or size >= total:
                return kept[:limit]
            size = min(size * 8, total)

    out = Selection()
    kind = product_kind(request, catalogue)
    found = find(hard, with_price=True)
    cheaper = request.cheaper_than is not None  # "cheaper" wants a lower price, not an unknown one
    if price and len(found) < k and not cheaper:  # fill with matches whose price is unknown, named as such
        unknown = find(hard, with_price=True, unpriced=True, limit=k - len(found))
        if unknown:
            many = len(unknown) > 1
            lead = (f"Nothing with a listed price matches {_labels(hard)}" if not found else
                    f"Only {len(found)} match{'es' if len(found) != 1 else ''} for {_labels(hard)} "
                    f"{'have' if len(found) != 1 else 'has'} a listed price")
            titles = "; ".join(c.item.title[:60] for c in unknown)
            out.notes.append(f"{lead}. {'These' if many else 'This'} {len(unknown)} match{'' if many else 'es'} "
                             f"{_labels(other)} but {'have' if many else 'has'} no price listed, so I can't say "
                             f"{'they are' if many else 'it is'} {_labels(price)}: {titles}.")
            for f in price:
                out.relaxed.append(Relaxation(key=f.key, value=f.value, label=f.label, how="no price listed",
                                              item_ids=[c.item.item_id for c in unknown]))
            found += unknown
    elif price and len(found) >= k:  # unpriced matches more similar than the last priced pick: counted, not hidden
        top = find(hard, with_price=False, limit=n)
        cutoff = found[k - 1].similarity
        shown_ids = {c.item.item_id for c in found[:k]}
        hidden = [c for c in top if _listed(c, catalogue).price is None
                  and c.item.item_id not in shown_ids and c.similarity > cutoff]
        if hidden:
            many = len(hidden) != 1
            out.notes.append(f"{len(hidden)} other match{'es' if many else ''} ha{'ve' if many else 's'} no listed "
                             f"price, so I left {'them' if many else 'it'} out of the picks {_labels(price)}.")
    if found:
        if len(found) < k and not out.relaxed:
            out.notes.append(f"Only {len(found)} item{'s' if len(found) != 1 else ''} match{'' if len(found) != 1 else 'es'} "
                             f"{_labels(hard)}.")
        out.items = found
        if kind is not None:
            _kind_first(kind, request, hard, price, find, catalogue, out, n, k)
        return out

    # Nothing meets everything: relax one constraint, say which and how. Exclusions are never relaxed.
    positives = [f for f in other if f.key in _RELAX_ORDER]  # oldest first: what the shopper just asked for stays
    budget_first = request.cheaper_than is not None  # "cheaper" has a floor: the cheapest that still match
    steps: list[list[Facet]] = ([price] if budget_first and price else []) + [[f] for f in positives]
    if price and not budget_first:
        steps.append(price)
    if len(positives) > 1:
        steps.append(positives)
    for dropped in steps:
        kept = [f for f in hard if f not in dropped]
        if dropped == price:
            matches = find(kept, with_price=False, limit=max(n, 200))
            priced = sorted((c for c in matches if _listed(c, catalogue).price is not None),
                            key=lambda c: _listed(c, catalogue).price, reverse=request.price_max() is None)
            if budget_first:  # "cheaper" never shows a higher price: at most the lowest shown before
                priced = [c for c in priced if _listed(c, catalogue).price <= request.cheaper_than]
                if not priced:  # nor something else instead: vitamin B12 pills are no cheaper protein powder
                    out.notes.append(f"Nothing cheaper than ${request.cheaper_than:.2f} matches {_labels(kept)}: "
                                     "the picks before were the cheapest.")
                    return out
            if not priced:
                continue
            # the k closest prices and every other item at the k-th: the ranker and `pick` choose among them (five
            # $20 cards and a Christmas card at $20 for a birthday: the Christmas card need not be shown)
            edge = _listed(priced[:k][-1], catalogue).price
            candidates = (priced[:k] + [c for c in priced[k:] if _listed(c, catalogue).price == edge])[:max(n, k)]
            prices = [_listed(c, catalogue).price for c in candidates]
            if budget_first:  # said before `pick` knows how many are shown: one wording for one or several
                how = (f"nothing cheaper than ${request.cheaper_than:.2f} matches {_labels(kept)}; shown instead: the "
                       f"same price as the cheapest pick before")
            else:
                how = (f"nothing {_labels(price)} matches {_labels(kept)}; these are the closest prices that do "
                       f"(${min(prices):.2f}–${max(prices):.2f})")
        else:
            candidates = find(kept, with_price=True)
            if not candidates:
                continue
            how = f"nothing matches {_labels(hard)}; I dropped {_labels(dropped)} and kept {_labels(kept)}"
        for f in dropped:
            out.relaxed.append(Relaxation(key=f.key, value=f.value, label=f.label, how=how,
                                          item_ids=[c.item.item_id for c in candidates]))
        out.notes.append(how[:1].upper() + how[1:] + ".")
        out.items = candidates
        return out
    out.notes.append(f"Nothing in the catalogue matches {_labels(hard)}. Remove one of them (the chips above the "
                     "answer) or rephrase.")
    return out


_OWN_KINDS: WeakKeyDictionary[Catalogue, bool] = WeakKeyDictionary()
_KIND_COUNTS: WeakKeyDictionary[Catalogue, dict[str, int]] = WeakKeyDictionary()  # by "modifier head"


def _has_own_kinds(catalogue: Catalogue) -> bool:
    """Steam files what an item is (a game, its soundtrack, DLC): agent/kinds.py `item_kind` reads it, and the
    ranker puts another kind last. An Amazon catalogue has no such fields; its kinds are the product's name."""
    if catalogue not in _OWN_KINDS:
        _OWN_KINDS[catalogue] = any(item_kind(i) != GAME for i in catalogue.items.values())
    return _OWN_KINDS[catalogue]


def kind_count(kind: ProductKind, catalogue: Catalogue) -> int:
    """How many of the catalogue's items are of `kind`."""
    counts = _KIND_COUNTS.setdefault(catalogue, {})
    if (key := f"{kind.modifier} {kind.head}") not in counts:
        counts[key] = sum(kind.matches(i) for i in catalogue.items.values())
    return counts[key]


def product_kind(request: Request, catalogue: Catalogue) -> ProductKind | None:
    """The product kind the conversation asks for (agent/kinds.py `product_asked`: "an electric toothbrush" ->
    toothbrush), read from the request's own words (the query's first line: a refinement keeps the original
    request's). None where the catalogue files kinds itself (Steam), where the request names none, or where most of
    the catalogue is of that kind ("a birthday gift card" on Gift Cards: every item is one, so it sorts nothing)."""
    if not request.message.strip() or request.intent != "recommend":
        return None
    named = [f.value for f in request.facets if f.key.removeprefix("exclude_") in (*MATCHED_KEYS, "brand")]
    return product_named(request.query_text, named, catalogue)


def product_named(text: str, named: list[str], catalogue: Catalogue) -> ProductKind | None:
    """The product kind `text` names that sorts this catalogue's items (see `product_kind`); `named`: the catalogue
    values the request asks for, which are not a product."""
    if _has_own_kinds(catalogue) or (kind := product_asked(text, named)) is None:
        return None
    count = kind_count(kind, catalogue)
    if count >= KIND_SHARE * max(len(catalogue.items), 1) or (kind.bare and count < BARE_KIND_MIN):
        return None
    return kind


def _listed(c: Candidate, catalogue: Catalogue) -> Item:
    """The catalogue's own item for a candidate (the index's copy may lag behind it)."""
    return catalogue.get(c.item.item_id) or c.item


def _closest_price(request: Request, item: Item) -> float:
    """How far the item's price is outside the asked budget (0 inside it)."""
    lo, hi, price = request.price_min(), request.price_max(), item.price or 0.0
    return max(0.0, price - hi if hi is not None else 0.0, lo - price if lo is not None else 0.0)


def _kind_first(kind: ProductKind, request: Request, hard: list[Facet], price: list[Facet], find, catalogue: Catalogue,
                out: Selection, n: int, k: int) -> None:
    """Make sure the candidates hold the items of the asked kind there are, and say honestly when there are none
    or too few. The nearest matches by text may miss them (a pill cutter is "near" an electric toothbrush), so the
    whole catalogue is searched for the kind; when none meets the budget, the kind's items nearest in price are
    added as a stated budget relaxation (never an exclusion). Another product stays only at RELATED_SHARE of the
    similarity of the kind's nearest item (one meeting the request, else any). The ranker shows the kind first
    (agent/rank.py `pick`)."""
    is_kind = kind.matches
    ids = {c.item.item_id for c in out.items}
    have = [c for c in out.items if is_kind(_listed(c, catalogue))]
    if len(have) < k:
        more = [c for c in find(hard, with_price=True, limit=k, where=is_kind) if c.item.item_id not in ids]
        out.items += more
        have += more
        ids |= {c.item.item_id for c in more}
    meeting = len(have)
    if meeting < k and price and request.cheaper_than is None:
        other = [f for f in hard if f not in price]
        beyond = [c for c in find(other, with_price=False, limit=max(n, 200), where=is_kind)
                  if c.item.item_id not in ids]
        priced = sorted((c for c in beyond if _listed(c, catalogue).price is not None),
                        key=lambda c: _closest_price(request, _listed(c, catalogue)))[: k - meeting]
        unpriced = [c for c in beyond if _listed(c, catalogue).price is None][: k - meeting]
        taken = priced or unpriced
        if taken:
            prices = [_listed(c, catalogue).price for c in taken]
            # an unpriced one among `have` is there by a stated relaxation: it is not known to meet the budget
            within = sum(_listed(c, catalogue).price is not None for c in have)
            lead = (f"I found no {kind.phrase} {_labels(price)}" if not within else
                    f"only {within} item{'s' if within > 1 else ''} match{'es' if within == 1 else ''} "
                    f"“{kind.phrase}” {_labels(price)}")
            these, are, has = ("these", "are", "have") if len(taken) > 1 else ("this", "is", "has")
            if priced:
                span = (f"${min(prices):.2f}" if min(prices) == max(prices) else
                        f"${min(prices):.2f}–${max(prices):.2f}")
                how = note = f"{lead}; {these} {len(taken)} {are} the nearest in price ({span})"
            else:  # said as the other unpriced matches are (`select`)
                how, note = "no price listed", f"{lead} with a listed price; {these} {len(taken)} {has} no price listed"
            for f in price:
                out.relaxed.append(Relaxation(key=f.key, value=f.value, label=f.label, how=how,
                                              item_ids=[c.item.item_id for c in taken]))
            out.notes.append(note[:1].upper() + note[1:] + ".")
            out.items += taken
            have += taken
    # said first: what the picks are matters more than which of them lack a price
    if not have:
        if kind_count(kind, catalogue):
            # the nearest item of the kind, whatever else was asked, sets the floor: "another brand" of the only
            # heating pad showed vitamin A softgels and a pill cutter as "the closest matches"
            nearest = find([], with_price=False, limit=1, where=is_kind)
            floor = RELATED_SHARE * nearest[0].similarity if nearest else 0.0
            out.items = [c for c in out.items if c.similarity >= floor]
            rest = "these are the closest matches to your request" if out.items else \
                "nothing else here is close enough to show"
            out.notes.insert(0, f"No {kind.phrase} matches {_labels(hard)}; {rest}.")
        else:
            out.notes.insert(0, f"I found no {kind.phrase} in the catalogue; these are the closest matches to your "
                                "request.")
    elif len(have) < k:
        many = len(have) != 1
        # one unpriced, or nearest in price outside the budget, is not within it: its own note says so
        said = hard if all(_listed(c, catalogue).price is not None and not _closest_price(request, _listed(c, catalogue))
                           for c in have) else [f for f in hard if f not in price]
        within = f" ({_labels(said)})" if said else ""
        # another product fills a pick only when it is about as close to the request (not vitamins for toothpaste)
        floor = RELATED_SHARE * max(c.similarity for c in have)
        out.items = [c for c in out.items if is_kind(_listed(c, catalogue)) or c.similarity >= floor]
        rest = ("the other picks are the closest other matches" if len(out.items) > len(have) else
                "nothing else here is close enough to show")
        out.notes.insert(0, f"Only {len(have)} item{'s' if many else ''} match{'' if many else 'es'} "
                            f"“{kind.phrase}”{within}; {rest}.")
