"""A fixed, seeded leave-last-out split: per user, the last interaction by time is `test`, the one before it is
`validation`, everything earlier is `history`.

Timestamps in Amazon 2018 are days, so a user's last two reviews often share one (292 of 458 gift-card users).
Ties are broken by a hash of (seed, user, item) — never by the item id, which would put old ASINs first.
A user who reviewed the same item twice keeps only the latest review, so a held-out item never sits in its own
user's history. Users with fewer than `min_items` distinct items (3 by default; Steam 5, see MIN_ITEMS) stay
whole in `history` (counted in `skipped`): training data for every model, never evaluated. A split made with another
minimum than 3 says so in `method`, which the hash covers (so the Gift Cards split and its hash are unchanged).

The split is saved as JSON with a sha256 over its content; training code excludes `held_out_pairs(split)`.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter, defaultdict
from pathlib import Path

from pydantic import BaseModel, Field

from index.models import Dataset, Interaction

SPLIT_DIR = Path(__file__).resolve().parent.parent / "eval" / "splits"  # saved splits are evaluation data
METHOD = "leave-last-out by timestamp; ties by sha256(seed, user, item); latest review per (user, item)"
DEFAULT_MIN_ITEMS = 3
# Per dataset: Steam users with >= 5 reviews (2,797 after the join), as issue 18 and the data README count them.
MIN_ITEMS = {"steam": 5}


def method_for(min_items: int) -> str:
    return METHOD if min_items == DEFAULT_MIN_ITEMS else f"{METHOD}; evaluated users have >= {min_items} items"


class Pair(BaseModel):
    user_id: str
    item_id: str
    timestamp: int


class Split(BaseModel):
    dataset: str
    seed: int
    dataset_fingerprint: str = Field(description="index.loaders.dataset_fingerprint of the files it was made from")
    method: str = METHOD
    history: dict[str, list[str]] = Field(description="user -> item ids before validation, oldest first")
    validation: list[Pair]
    test: list[Pair]
    skipped: dict[str, int] = Field(default_factory=dict, description="interactions/users left out, by reason")
    sha256: str = ""

    def content_hash(self) -> str:
        """sha256 of the canonical JSON of everything but the hash itself."""
        body = self.model_dump(exclude={"sha256"})
        return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _tie_hash(seed: int, user_id: str, item_id: str) -> int:
    return int.from_bytes(hashlib.sha256(f"{seed}\0{user_id}\0{item_id}".encode()).digest()[:8], "big")


def make_split(dataset: Dataset, seed: int = 0, fingerprint: str = "", min_items: int | None = None) -> Split:
    """`min_items` None: the dataset's entry in MIN_ITEMS, else 3."""
    min_items = MIN_ITEMS.get(dataset.name, DEFAULT_MIN_ITEMS) if min_items is None else min_items
    if min_items < 3:
        raise ValueError(f"min_items must be >= 3 (a history, a validation and a test item), not {min_items}")
    skipped: Counter[str] = Counter()
    latest: dict[tuple[str, str], Interaction] = {}
    for it in dataset.interactions:
        key = (it.user_id, it.item_id)
        if key in latest:
            skipped["repeat_review_of_same_item"] += 1
            if it.timestamp <= latest[key].timestamp:
                continue
        latest[key] = it
    by_user: dict[str, list[Interaction]] = defaultdict(list)
    for it in latest.values():
        by_user[it.user_id].append(it)

    history: dict[str, list[str]] = {}
    validation: list[Pair] = []
    test: list[Pair] = []
    for user_id in sorted(by_user):
        ordered = sorted(by_user[user_id], key=lambda i: (i.timestamp, _tie_hash(seed, i.user_id, i.item_id)))
        if len(ordered) < min_items:
            skipped[f"user_with_fewer_than_{min_items}_items"] += 1
            history[user_id] = [i.item_id for i in ordered]
            continue
        *past, val, tst = ordered
        history[user_id] = [i.item_id for i in past]
        validation.append(Pair(user_id=user_id, item_id=val.item_id, timestamp=val.timestamp))
        test.append(Pair(user_id=user_id, item_id=tst.item_id, timestamp=tst.timestamp))
    split = Split(dataset=dataset.name, seed=seed, dataset_fingerprint=fingerprint, method=method_for(min_items),
                  history=history, validation=validation, test=test, skipped=dict(skipped))
    split.sha256 = split.content_hash()
    return split


def held_out_pairs(split: Split, include_validation: bool = True) -> set[tuple[str, str]]:
    """The (user_id, item_id) pairs training must never see: test, and validation unless told otherwise."""
    pairs = {(p.user_id, p.item_id) for p in split.test}
    if include_validation:
        pairs |= {(p.user_id, p.item_id) for p in split.validation}
    return pairs


def known_interactions(dataset: Dataset, split: Split, target: str = "test") -> list[Interaction]:
    """What a model may know when predicting `target`: for test, everything but test (history + validation, all
    earlier in time); for validation, history only. Counts, co-occurrence and LoRA data come from these."""
    hidden = {(p.user_id, p.item_id) for p in split.test}
    if target == "validation":
        hidden |= {(p.user_id, p.item_id) for p in split.validation}
    elif target != "test":
        raise ValueError(f"target must be 'test' or 'validation', not {target!r}")
    return [i for i in dataset.interactions if (i.user_id, i.item_id) not in hidden]


def save_split(split: Split, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(split.model_dump_json(indent=1) + "\n")
    return path


def load_split(path: Path) -> Split:
    """Load and re-hash: a split edited by hand (or truncated) fails loudly instead of skewing every result."""
    split = Split.model_validate_json(Path(path).read_text())
    if split.content_hash() != split.sha256:
        raise ValueError(f"{path}: content hash {split.content_hash()[:12]}… does not match recorded {split.sha256[:12]}…")
    return split


def split_path(dataset_name: str, seed: int = 0, directory: Path = SPLIT_DIR) -> Path:
    return directory / f"{dataset_name}.seed{seed}.json"


def get_split(dataset: Dataset, data_dir: Path, seed: int = 0, directory: Path = SPLIT_DIR) -> Split:
    """The saved split for this dataset and seed; made and saved when missing. A saved split made from other
    files (fingerprint differs) is an error, never silently replaced: results would stop being comparable."""
    from index.loaders import dataset_fingerprint

    fingerprint = dataset_fingerprint(dataset.name, data_dir)
    path = split_path(dataset.name, seed, directory)
    if path.is_file():
        split = load_split(path)
        if split.dataset_fingerprint != fingerprint:
            raise ValueError(f"{path} was made from other data files (fingerprint {split.dataset_fingerprint[:12]}… "
                             f"vs {fingerprint[:12]}…); delete it to re-split, knowing old results no longer compare")
        return split
    split = make_split(dataset, seed, fingerprint)
    save_split(split, path)
    return split
