"""Malformed copies of the real catalogue files: ingest completes, every bad row is counted by reason, and no good
row is lost (each copy is compared, id by id and field by field, with a load of the clean rows it was made from).

The damage is what real mirrors of these files contain or a user's download can suffer: markup titles, missing and
duplicate ids, prices as text ("Free to Play", "$1,299.00", ""), values of the wrong type, undecodable bytes, a 1 MB
description, lines that are not records (one tries to run code), and a gzip cut off mid-stream.
"""

from __future__ import annotations

import ast
import gzip
import json
import shutil
import zlib
from collections import Counter
from pathlib import Path

import pytest

from agent.settings import Settings
from index.loaders import load_dataset
from index.models import Dataset

pytestmark = pytest.mark.faults

DATA_DIR = Settings().data_dir
GIFT, STEAM = "amazon2018_gift_cards", "steam"
META, REVIEWS = "meta_Gift_Cards.json.gz", "Gift_Cards_5.json.gz"
STEAM_SUBSET_ROWS = 400


def read_gz_lines(path: Path, limit: int | None = None) -> list[str]:
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        lines = [line.rstrip("\n") for line in handle if line.strip()]
    return lines[:limit]


def write_gz(path: Path, lines: list[str | bytes]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wb") as handle:
        for line in lines:
            handle.write((line if isinstance(line, bytes) else line.encode("utf-8")) + b"\n")
    return path


def code_sentinel_line(sentinel: Path) -> str:
    """A line that would create `sentinel` if anything ever eval'd data instead of parsing it."""
    return f"{{'id': __import__('os').system('touch {sentinel}'), 'app_name': 'pwned'}}"


def accounting(dataset: Dataset, role: str, kept: int) -> tuple[int, int]:
    """(rows read, rows accounted for) of one file role: every line read is kept, skipped or unused — none vanish."""
    report = dataset.report
    read = sum(n for name, n in report.rows_read.items() if name.startswith("meta_") == (role == "meta"))
    accounted = kept + sum(n for k, n in report.skipped.items() if k.startswith(f"{role}_") and "gzip" not in k)
    accounted += sum(n for k, n in report.unused.items() if k.startswith(f"{role}_"))
    return read, accounted


def record(figures, case: str, dataset: Dataset, lost: int) -> None:
    report = dataset.report
    figures.record("bad_data", **{f"{case}": {
        "rows_tried": sum(report.rows_read.values()), "skipped": sum(report.skipped.values()),
        "repaired": sum(report.repaired.values()), "unused": sum(report.unused.values()), "lost": lost,
        "skipped_by_reason": dict(sorted(report.skipped.items())),
        "repaired_by_reason": dict(sorted(report.repaired.items()))}})
    figures.add("bad_data", rows_tried=sum(report.rows_read.values()), skipped=sum(report.skipped.values()),
                repaired=sum(report.repaired.values()), lost=lost)


# --- Amazon 2018 gift cards -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def clean_gift() -> Dataset:
    return load_dataset(GIFT, DATA_DIR)


def test_gift_cards_with_every_kind_of_bad_row_lose_no_good_row(tmp_path, clean_gift, figures):
    meta = [json.loads(line) for line in read_gz_lines(DATA_DIR / GIFT / META)]
    reviews = [json.loads(line) for line in read_gz_lines(DATA_DIR / GIFT / REVIEWS)]
    in_scope = sorted(item.item_id for item in clean_gift.items)
    row_of = {row["asin"]: row for row in meta}
    # Damage in place: ten catalogue items, each with one fault and its expected outcome.
    (free, thousands, empty, junk_price, list_price, html_title, broken_title, no_title, huge, wrong_types) = in_scope[:10]
    row_of[free]["price"] = "Free to Play"
    row_of[thousands]["price"] = "$1,299.00"
    row_of[empty]["price"] = ""
    row_of[junk_price]["price"] = "Call for price"
    row_of[list_price]["price"] = [40]
    original_title = row_of[html_title]["title"]
    row_of[html_title]["title"] = f'<span class="a-size-large">{original_title}</span>'
    row_of[broken_title]["title"] = '<span class="a-size-medium a-color-secondary"></span>'
    row_of[no_title]["title"] = ""
    row_of[huge]["description"] = ["word " * 200_000]  # 1 MB
    row_of[wrong_types].update(brand=12345, category="Gift Cards", details=["not", "a", "dict"], feature="one string")
    dropped = {broken_title, no_title}

    sentinel = tmp_path / "eval_ran"
    first, duplicate_of = meta[0], in_scope[10]
    meta_lines: list[str | bytes] = [
        json.dumps({**first, "title": "\udcff"}, ensure_ascii=False, default=str).encode("utf-8", "surrogateescape"),
        b'{"asin": "B0BADBYTES", "title": "caf\xe9 \xff\xfe gift"}',  # latin-1 bytes: not UTF-8
        "{this is not json",
        "[1, 2, 3]",
        "null",
        code_sentinel_line(sentinel),
        "[" * 100_000 + "]" * 100_000,  # deeper than any parser's recursion limit
        json.dumps({k: v for k, v in first.items() if k != "asin"}),
        json.dumps({**first, "asin": None}),
        json.dumps({**first, "asin": ["B001"]}),
        json.dumps({**first, "asin": True}),
    ]
    meta_lines += [json.dumps(row) for row in meta]
    meta_lines.append(json.dumps({**row_of[duplicate_of], "title": "IMPOSTOR of a real card", "price": "$0.00"}))

    bad_rating, bad_time = 0, 1  # reviews damaged in place (kept, repaired or with rating unknown)
    reviews[bad_rating]["overall"] = "five stars"
    reviews[bad_time]["unixReviewTime"] = "yesterday"
    review_lines: list[str | bytes] = [json.dumps(r) for r in reviews]
    review_lines += [
        json.dumps({k: v for k, v in reviews[2].items() if k != "reviewerID"}),
        json.dumps(reviews[3]),  # an exact duplicate of a review
        b'{"reviewerID": "A\xff", "asin": "B\xfe"}',
        "{'reviewerID': 'APY', 'asin': ",  # torn line
    ]
    folder = tmp_path / "gift_damaged"
    write_gz(folder / META, meta_lines)
    write_gz(folder / REVIEWS, review_lines)

    damaged = load_dataset("gift_damaged", tmp_path)

    assert not sentinel.exists(), "a data line was executed"
    report = damaged.report
    assert report.skipped == Counter({
        "meta_undecodable_line": 2, "meta_unparseable_line": 3, "meta_not_an_object": 2, "meta_missing_id": 4,
        "meta_duplicate_id": 1, "meta_broken_title": 1, "meta_missing_title": 1,
        "reviews_missing_id": 1, "reviews_duplicate_interaction": 1, "reviews_undecodable_line": 1,
        "reviews_unparseable_line": 1})
    assert report.repaired == Counter({"meta_unparsed_price": 2, "meta_title_html_stripped": 1,
                                       "reviews_missing_timestamp": 1, "reviews_unparsed_rating": 1,
                                       # good rows: the e-mail cards' brands and titles (tests/test_loaders.py)
                                       "meta_brand_from_title": 28, "meta_title_placeholder": 9})
    assert report.rows_read == {META: len(meta_lines), REVIEWS: len(review_lines)}
    for role, kept in (("meta", len(damaged.items)), ("reviews", len(damaged.interactions))):
        read, accounted = accounting(damaged, role, kept)
        assert read == accounted, f"{role}: {read} lines read, {accounted} kept/skipped/unused"

    items = {item.item_id: item for item in damaged.items}
    clean = {item.item_id: item for item in clean_gift.items}
    lost = sorted(set(clean) - dropped - set(items))
    assert not lost, f"good items lost: {lost}"
    assert set(items) == set(clean) - dropped
    changed = {free, thousands, empty, junk_price, list_price, html_title, huge, wrong_types}
    for item_id in set(items) - changed:
        assert items[item_id] == clean[item_id].model_copy(update={"source": "gift_damaged"}), (
            f"{item_id} differs from the clean load")
    assert items[duplicate_of].title == clean[duplicate_of].title  # the first row wins; the impostor is counted
    assert (items[free].price, items[free].first("price")) == (0.0, "Free")
    assert (items[thousands].price, items[thousands].first("price")) == (1299.0, "$1,299.00")
    assert items[empty].price is items[junk_price].price is items[list_price].price is None
    assert items[html_title].title == clean[html_title].title
    assert len(items[huge].text) <= 1000 and items[huge].title == clean[huge].title
    assert items[wrong_types].first("brand") == "12345" and items[wrong_types].title == clean[wrong_types].title

    def key(i):  # an interaction as the clean file has it (ratings/times damaged above compared without them)
        return (i.user_id, i.item_id, i.review)

    kept = Counter(key(i) for i in damaged.interactions)
    expected = Counter(key(i) for i in clean_gift.interactions if i.item_id not in dropped)
    lost_reviews = expected - kept
    assert not lost_reviews, f"good reviews lost: {list(lost_reviews)[:5]}"
    assert kept == expected
    assert report.unused["reviews_item_not_in_catalogue"] == sum(
        1 for i in clean_gift.interactions if i.item_id in dropped)
    record(figures, "gift_cards_damaged", damaged, lost=len(lost) + sum(lost_reviews.values()))


def test_truncated_gzip_keeps_every_complete_review(tmp_path, clean_gift, figures):
    folder = tmp_path / "gift_truncated"
    folder.mkdir()
    shutil.copy(DATA_DIR / GIFT / META, folder / META)
    whole = (DATA_DIR / GIFT / REVIEWS).read_bytes()
    cut = whole[: int(len(whole) * 0.6)]
    (folder / REVIEWS).write_bytes(cut)
    # what survives the cut: every line the decompressor can finish, read here independently of the loader
    text = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(cut).decode("utf-8", "replace")
    complete = [json.loads(line) for line in text.split("\n")[:-1] if line.strip()]

    damaged = load_dataset("gift_truncated", tmp_path)

    assert damaged.report.skipped["reviews_truncated_gzip"] == 1
    loaded = Counter((i.user_id, i.item_id, i.timestamp) for i in damaged.interactions)
    wanted = Counter((r["reviewerID"], r["asin"], r["unixReviewTime"]) for r in complete)
    lost = wanted - loaded
    assert not lost, f"complete lines before the cut were lost: {list(lost)[:5]}"
    assert 0 < len(damaged.interactions) < len(clean_gift.interactions)
    record(figures, "gift_cards_truncated_gzip", damaged, lost=sum(lost.values()))


# --- Steam -------------------------------------------------------------------------------------------------------


def test_steam_subset_with_text_prices_bad_ids_and_a_cut_gzip(tmp_path, figures):
    raw = read_gz_lines(DATA_DIR / STEAM / "steam_games.json.gz", STEAM_SUBSET_ROWS)
    games = [ast.literal_eval(line) for line in raw]
    games = [g for g in games if g.get("id") and (g.get("app_name") or g.get("title"))]
    ids = [g["id"] for g in games]
    assert len(set(ids)) == len(ids)
    write_gz(tmp_path / "steam_clean" / "steam_games.json.gz", [repr(g) for g in games])
    clean = {item.item_id: item for item in load_dataset("steam_clean", tmp_path).items}
    assert set(clean) == set(ids)

    by_id = {g["id"]: g for g in games}
    free, thousands, empty, install, none_price, from_title = ids[:6]
    by_id[free]["price"] = "Free to Play"
    by_id[thousands]["price"] = "$1,299.00"
    by_id[empty]["price"] = ""
    by_id[install]["price"] = "Install Now"
    by_id[none_price]["price"] = None
    by_id[from_title].pop("app_name", None)
    sentinel = tmp_path / "eval_ran"
    lines: list[str | bytes] = [repr(g) for g in games]
    lines[7] = json.dumps(games[7])  # a mirror that re-dumped one line as JSON
    lines += [
        repr({**games[8], "title": "IMPOSTOR", "app_name": "IMPOSTOR"}),  # duplicate id
        repr({k: v for k, v in games[9].items() if k != "id"}),
        repr({**games[10], "id": "99999901", "app_name": "<span class='x'></span>", "title": None}),
        code_sentinel_line(sentinel),
        b"{u'id': u'99999902', u'app_name': u'\xff\xfe'}",
        "{u'id': u'99999903', u'app_name': u'torn",
    ]
    write_gz(tmp_path / "steam_damaged" / "steam_games.json.gz", lines)

    damaged = load_dataset("steam_damaged", tmp_path)

    assert not sentinel.exists(), "a data line was executed"
    report = damaged.report
    assert report.skipped == Counter({"games_duplicate_id": 1, "games_missing_id": 1, "games_broken_title": 1,
                                      "games_unparseable_line": 2, "games_undecodable_line": 1})
    assert report.repaired == Counter({"games_unparsed_price": 1, "games_title_from_title": 1})
    items = {item.item_id: item for item in damaged.items}
    lost = sorted(set(clean) - set(items))
    assert not lost and set(items) == set(clean)
    assert (items[free].price, items[free].first("price")) == (0.0, "Free")
    assert items[thousands].price == 1299.0
    assert items[empty].price is None and items[install].price is None and items[none_price].price is None
    assert items[from_title].title == by_id[from_title]["title"]
    for item_id in set(items) - {free, thousands, empty, install, none_price, from_title}:
        assert items[item_id] == clean[item_id].model_copy(update={"source": "steam_damaged"})
    record(figures, "steam_damaged", damaged, lost=len(lost))

    # the same file cut at 70% of its bytes: every game whose line was complete before the cut is still there
    whole = (tmp_path / "steam_damaged" / "steam_games.json.gz").read_bytes()
    cut = whole[: int(len(whole) * 0.7)]
    (tmp_path / "steam_cut").mkdir()
    (tmp_path / "steam_cut" / "steam_games.json.gz").write_bytes(cut)
    text = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(cut).decode("utf-8", "replace")
    complete_ids = set()
    for line in text.split("\n")[:-1]:
        try:
            record_ = ast.literal_eval(line)
        except (ValueError, SyntaxError):
            try:
                record_ = json.loads(line)
            except ValueError:
                continue
        if isinstance(record_, dict) and record_.get("id") in items:
            complete_ids.add(record_["id"])
    cut_dataset = load_dataset("steam_cut", tmp_path)
    assert cut_dataset.report.skipped["games_truncated_gzip"] == 1
    lost_cut = sorted(complete_ids - {i.item_id for i in cut_dataset.items})
    assert not lost_cut, f"complete games before the cut were lost: {lost_cut[:5]}"
    record(figures, "steam_truncated_gzip", cut_dataset, lost=len(lost_cut))
