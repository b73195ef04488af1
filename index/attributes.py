"""Every attribute key whyrec treats specially, with its roles, in one table (the order is the prompt's).

Roles, each a set of keys derived below:
- handle:     offered to the model as a claim handle, in this order (logistics such as dimensions never are);
- render:     phrased by the fallback renderer ("comes in Powder form");
- shared:     a trait two items can share, so a past item may be linked through it (gift amounts are
              denominations on offer, not a trait; a price is, as the amount a shopper spends);
- vocabulary: names a reason's text could wrongly claim (checked by the verifier) and a request could ask for; the
              evaluation's feature vocabulary (eval/metrics/features.py);
- request:    matched in a shopper's message as something they ask for or rule out (and, like vocabulary, checked
              by the verifier when a reason's text says it: "is delivered by e-mail" of a plastic card);
- chip:       shown as a chip on the card;
- scalar:     stored as one plain Chroma metadata value (equality / range filters);
- facet:      stored as one boolean Chroma key per value (what `Filters` can filter on).
"""

from __future__ import annotations

ROLES: dict[str, frozenset[str]] = {key: frozenset(roles.split()) for key, roles in {
    "brand": "handle render shared vocabulary chip scalar",
    "price": "handle render shared",
    "delivery": "handle render shared request chip",
    "packaging": "handle render shared request chip",
    "design": "handle render chip",
    "category": "handle render shared vocabulary chip scalar facet",
    "genre": "handle render shared vocabulary request chip facet",
    "tag": "handle render shared vocabulary request chip facet",
    "spec": "handle render shared vocabulary request chip facet",
    "developer": "handle render shared vocabulary scalar",
    "publisher": "handle render shared vocabulary scalar",
    "flavor": "handle render shared vocabulary request chip",
    "item_form": "handle render shared vocabulary request chip",
    "material": "handle render shared vocabulary chip",
    "color": "handle render vocabulary",
    "diet_type": "handle render shared vocabulary request",
    "gift_amount": "handle chip",
    "sentiment": "handle render",
    "release_year": "handle render scalar",
    "feature": "render",
    "special_feature": "render shared",
    "primary_supplement_type": "render shared",
    "scent": "render shared",
    "material_feature": "render",
    "skin_type": "render",
    "age_range": "render",
    "average_rating": "render",
}.items()}

# Logistics and quantities are true but never a reason to buy ("has unit count 4.0 Ounce" was shown as one on H&PC):
# never offered to the model as claims.
NOT_REASONS = frozenset({"product_dimensions", "package_dimensions", "item_dimensions_lxwxh", "item_weight",
                         "package_weight", "number_of_items", "item_package_quantity", "package_information",
                         "number_of_compartments", "unit_count", "servings_per_container", "item_volume",
                         "number_of_pieces", "sheet_count", "country_of_origin", "batteries"})


def keys_with(role: str) -> tuple[str, ...]:
    """The keys that have `role`, in the table's order."""
    return tuple(key for key, roles in ROLES.items() if role in roles)


HANDLE_ORDER = keys_with("handle")
RENDERED = keys_with("render")
SHARED = keys_with("shared")
VOCABULARY = keys_with("vocabulary")
REQUESTED = keys_with("request")
CHIPS = keys_with("chip")
SCALAR = keys_with("scalar")
FACETS = frozenset(keys_with("facet"))
