"""Steam users' reviews: the flat CSV export and the text sample, counted and traced to exact rows of the shipped
files, and the rules (exact duplicates, year-less dates, `recommend` as the rating, text joined) on small fixtures."""

from __future__ import annotations

import gzip
import json
import shutil
from collections import Counter
from pathlib import Path

import pytest

from agent.settings import Settings
from index.loaders import load_dataset
from index.loaders.steam import data_files, posted_timestamp
from index.models import Dataset

DATA_DIR = Settings().data_dir
STEAM = DATA_DIR / "steam"


@pytest.fixture(scope="module")
def steam() -> Dataset:
    return load_dataset("steam", DATA_DIR)


def test_shipped_counts_match_the_data_readme(steam):
    """59,305 rows; 874 exact duplicates -> 58,431; 3,195 of 3,682 games join; 2,797 users with >= 5 reviews."""
    report = steam.report
    assert report.rows_read["user_reviews_flat.csv.gz"] == 59305
    assert report.rows_read["user_reviews_text_sample.json.gz"] == 314  # user records
    assert report.skipped["user_reviews_exact_duplicate"] == 874
    assert "user_reviews_duplicate_interaction" not in report.skipped  # no (user, item) with two different rows
    assert len(steam.interactions) + report.unused["user_reviews_item_not_in_catalogue"] == 58431
    assert len(steam.interactions) == 53197 and len(steam.users) == 24380
    assert report.unused["user_reviews_games_not_in_catalogue"] == 487
    assert len({i.item_id for i in steam.interactions}) == 3195
    per_user = Counter(i.user_id for i in steam.interactions)
    active = {u: n for u, n in per_user.items() if n >= 5}
    assert (len(active), sum(active.values())) == (2797, 18110)
    assert Counter(i.rating for i in steam.interactions) == {1.0: 47492, 0.0: 5705}
    assert report.repaired["user_reviews_posted_year_inferred"] == 9085
    assert report.repaired["user_reviews_text_joined"] == 863
    assert "user_reviews_text_without_flat_row" not in report.unused  # the sample's reviews are all in the table


def test_exact_rows_trace_to_the_flat_table_and_the_text_sample(steam):
    rows = {(i.user_id, i.item_id): i for i in steam.interactions}
    # 05041129's three rows appear twice in the file (lines 13412-4 and 31986-8); each is kept once
    assert [i.item_id for i in steam.interactions if i.user_id == "05041129"] == ["730", "277430", "440"]
    assert (rows["05041129", "730"].rating, rows["05041129", "730"].timestamp) == (1.0, 1431907200)  # 2015-05-18
    assert rows["05041129", "440"].rating == 0.0  # recommend False: a negative signal
    # "Posted March 27." -> 2016-03-27 (the year after the file's latest explicit year, 2015)
    assert (rows["76561198010674657", "377160"].rating, rows["76561198010674657", "377160"].timestamp) == (
        0.0, 1459036800)
    imserious = rows["ImSeriouss", "218620"]  # text from the sample, joined on (user, item)
    assert (imserious.rating, imserious.timestamp, imserious.review) == (
        1.0, 1389312000, "Good graphics, fun heists! A bit laggy")
    assert rows["js41637", "227300"].review == ""  # not in the sample: no text (251610 is not in the games file)


def test_the_fingerprint_covers_the_review_files():
    assert [p.name for p in data_files(STEAM)] == [
        "steam_games.json.gz", "bundle_data.json.gz", "user_reviews_flat.csv.gz", "user_reviews_text_sample.json.gz"]


def test_posted_dates():
    assert posted_timestamp("Posted November 5, 2011.") == 1320451200
    assert posted_timestamp("Posted June 27.") is None
    assert posted_timestamp("Posted June 27.", default_year=2016) == 1466985600
    assert posted_timestamp("Posted February 30, 2015.") is None and posted_timestamp(None) is None


# --- small fixtures -------------------------------------------------------------------------------------------


def _folder(tmp_path: Path, ids: tuple[str, ...] = ("10", "20", "30")) -> Path:
    folder = tmp_path / "steam_users"
    folder.mkdir()
    games = [{"id": i, "app_name": f"Game {i}", "genres": ["Action"], "tags": ["Co-op"], "price": 4.99}
             for i in ids]
    (folder / "steam_games.json.gz").write_bytes(gzip.compress("".join(repr(g) + "\n" for g in games).encode()))
    return folder


def _write_csv(path: Path, text: str) -> None:
    path.write_bytes(gzip.compress(text.encode()))


FLAT = """Año,user_id,recommend,posted,item_id,sentiment_analysis
2011,u1,True,"Posted November 5, 2011.",10,2
2011,u1,True,"Posted November 5, 2011.",10,2
2024,u1,False,Posted June 27.,20,0
2014,u2,True,"Posted May 1, 2014.",999,1
2014,u2,maybe,"Posted May 2, 2014.",30,1
"""


def test_flat_table_rules(tmp_path):
    folder = _folder(tmp_path)
    _write_csv(folder / "user_reviews_flat.csv.gz", FLAT)
    dataset = load_dataset("steam_users", tmp_path)
    report = dataset.report
    assert report.rows_read["user_reviews_flat.csv.gz"] == 5
    assert report.skipped["user_reviews_exact_duplicate"] == 1
    assert report.unused["user_reviews_item_not_in_catalogue"] == 1
    assert report.repaired["user_reviews_posted_year_inferred"] == 1
    assert report.repaired["user_reviews_unparsed_recommend"] == 1
    got = [(i.user_id, i.item_id, i.rating, i.timestamp) for i in dataset.interactions]
    # columns by header name, in any order; Año and sentiment_analysis never read; June 27 -> 2015 (2014 + 1)
    assert got == [("u1", "10", 1.0, 1320451200), ("u1", "20", 0.0, 1435363200), ("u2", "30", None, 1398988800)]


def test_text_sample_is_joined_and_never_evaluated(tmp_path):
    folder = _folder(tmp_path)
    _write_csv(folder / "user_reviews_flat.csv.gz", FLAT)
    sample = [
        {"user_id": "u1", "user_url": "x", "reviews": repr([
            {"item_id": "10", "posted": "Posted November 5, 2011.", "recommend": True, "review": "Great &amp; fast"},
            {"item_id": "30", "posted": "Posted May 2, 2014.", "recommend": True, "review": "not in the table"}])},
        {"user_id": "u2", "user_url": "y", "reviews": "__import__('os').system('echo pwned')"},
    ]
    (folder / "user_reviews_text_sample.json.gz").write_bytes(gzip.compress(json.dumps(sample).encode()))
    dataset = load_dataset("steam_users", tmp_path)
    report = dataset.report
    assert dataset.interactions[0].review == "Great & fast"
    assert report.repaired["user_reviews_text_joined"] == 1
    assert report.unused["user_reviews_text_without_flat_row"] == 1
    assert report.skipped["text_sample_unparseable_reviews"] == 1


def test_text_sample_alone_is_a_review_source(tmp_path):
    folder = _folder(tmp_path, ids=("218620", "105600"))
    shutil.copy(STEAM / "user_reviews_text_sample.json.gz", folder)
    dataset = load_dataset("steam_users", tmp_path)
    assert dataset.report.rows_read["user_reviews_text_sample.json.gz"] == 314
    rows = {(i.user_id, i.item_id): (i.rating, i.timestamp, i.review) for i in dataset.interactions}
    assert rows["ImSeriouss", "105600"] == (
        1.0, 1389312000, "So fun! DEFINITELY NOT RIP OFF OF MINECRAFT! endless fun!")


def test_full_size_file_takes_precedence_over_the_flat_export(tmp_path):
    folder = _folder(tmp_path)
    _write_csv(folder / "user_reviews_flat.csv.gz", FLAT)
    full = repr({"user_id": "u9", "reviews": [{"item_id": "30", "recommend": True, "review": "yes",
                                              "posted": "Posted May 1, 2014."}]})
    (folder / "australian_user_reviews.json.gz").write_bytes(gzip.compress((full + "\n").encode()))
    dataset = load_dataset("steam_users", tmp_path)
    assert [(i.user_id, i.item_id, i.review) for i in dataset.interactions] == [("u9", "30", "yes")]
    assert "user_reviews_flat.csv.gz" not in dataset.report.rows_read
