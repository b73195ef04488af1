"""Shared fixtures: the real datasets indexed once per test session (idempotent, so a warm index costs seconds).

Gift Cards and Health & Personal Care are indexed whole, in the default home. Steam is indexed whole only with
`WHYREC_TEST_STEAM=full`: by default the session indexes a sample of it in its own home (`<home>/test-steam`, so a
full Steam index in the default home is never touched), because embedding all 32k games takes ~5.5 min on 2 cores.
The sample is a data folder of REAL rows: the raw lines of the same 3,000 games `whyrec bench --quick` samples
(eval/bench_registry.py, seed 0) plus the games the tests name (Terraria; the browser test's shopper's games), next to
the real, whole review and bundle files. Tests keep checking answers against the full raw files, a superset.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from index_helpers import STEAM, steam_sample_settings, steam_sample_wanted

from agent.settings import Settings


@pytest.fixture(scope="session")
def indexed() -> Callable[..., Settings]:
    """`indexed("steam")` -> Settings with that dataset's index built (once per session): the default home, or for
    Steam the sample's home (see the module docstring). `indexed("x", beside=s)`: dataset x indexed in the home of
    Settings `s`, for a test that needs two datasets in one home."""
    from index.build import build_index

    done: dict[tuple[str, Path | None], Settings] = {}

    def ensure(dataset: str, beside: Settings | None = None) -> Settings:
        key = (dataset, beside.home if beside is not None else None)
        if key not in done:
            if beside is not None:
                base = beside
            elif dataset == STEAM and steam_sample_wanted():
                base = steam_sample_settings()
            else:
                base = Settings()
            settings = base.model_copy(update={"dataset": dataset})
            build_index(dataset, settings, progress=False)
            done[key] = settings
        return done[key]

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
