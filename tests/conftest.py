"""Shared fixtures: the real datasets indexed once per test session (idempotent, so a warm index costs seconds)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from agent.settings import Settings


@pytest.fixture(scope="session")
def indexed() -> Callable[[str], Settings]:
    """`indexed("steam")` -> Settings of the default home with that dataset's index built (once per session)."""
    from index.build import build_index

    done: dict[str, Settings] = {}

    def ensure(dataset: str) -> Settings:
        if dataset not in done:
            settings = Settings(dataset=dataset)
            build_index(dataset, settings, progress=False)
            done[dataset] = settings
        return done[dataset]

    return ensure


@pytest.fixture(scope="session")
def gift_cards_index(indexed) -> Settings:
    return indexed("amazon2018_gift_cards")


@pytest.fixture(scope="session")
def raw_meta() -> dict[str, dict]:
    """asin -> its first row in the raw Gift Cards metadata file: what cards are checked against, not the loader."""
    from index_helpers import DATA_DIR, read_jsonl_gz

    meta: dict[str, dict] = {}
    for row in read_jsonl_gz(DATA_DIR / "amazon2018_gift_cards" / "meta_Gift_Cards.json.gz"):
        meta.setdefault(row["asin"], row)
    return meta
