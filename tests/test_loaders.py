"""Dataset loaders: exact counts and values on the real shipped files, and every kind of damage counted, not fatal."""

from __future__ import annotations

import ast
import gzip
import hashlib
import json
import shutil
import zlib
from collections import Counter
from itertools import islice
from pathlib import Path

import pytest

from agent.settings import Settings
from index.loaders import DatasetError, dataset_fingerprint, get_loader, load_dataset
from index.models import Dataset
from index.normalise import clean_text, format_price, parse_price, pick_title, quotable_sentence, trim_feature

DATA_DIR = Settings().data_dir
GIFT_CARDS, HPC, STEAM = "amazon2018_gift_cards", "amazon2023_health_personal_care_meta", "steam"


def raw_rows(name: str, file: str, python: bool = False, limit: int | None = None) -> list[dict]:
    with gzip.open(DATA_DIR / name / file, "rt", encoding="utf-8") as handle:
        return [ast.literal_eval(line) if python else json.loads(line) for line in islice(handle, limit)]


@pytest.fixture(scope="module")
def gift_cards() -> Dataset:
    return load_dataset(GIFT_CARDS, DATA_DIR)


@pytest.fixture(scope="module")
def hpc() -> Dataset:
    return load_dataset(HPC, DATA_DIR)


@pytest.fixture(scope="module")
def steam() -> Dataset:
    return load_dataset(STEAM, DATA_DIR)


def by_id(dataset: Dataset) -> dict:
    return {item.item_id: item for item in dataset.items}


# --- the shipped datasets -------------------------------------------------------------------------------------


def test_gift_cards_catalogue_is_the_reviewed_items_with_metadata(gift_cards):
    assert (len(gift_cards.items), len(gift_cards.interactions), len(gift_cards.users)) == (148, 2972, 458)
    report = gift_cards.report
    assert report.rows_read == {"Gift_Cards_5.json.gz": 2972, "meta_Gift_Cards.json.gz": 1547}
    assert report.unused == {"meta_without_interactions": 1547 - 148}
    assert not report.skipped and report.repaired == {"meta_brand_from_title": 28, "meta_title_placeholder": 9}
    assert set(report.files) == {"Gift_Cards_5.json.gz", "meta_Gift_Cards.json.gz"}


def test_gift_cards_values_trace_to_the_raw_fields(gift_cards):
    items = by_id(gift_cards)
    card = items["B004Q7CK9M"]
    assert card.title == "Amazon.com Gift Card in a Greeting Card (Various Designs)"
    assert (card.first("brand"), card.first("price"), card.price) == ("Amazon", "$40.00", 40.0)
    assert card.popularity == 88  # its reviews in the 5-core
    assert items["B006PJHP62"].title == "Applebee's Gift Card"  # raw "Applebee&#39;s"
    for row in raw_rows(GIFT_CARDS, "meta_Gift_Cards.json.gz"):
        item = items.get(row["asin"])
        if item is None:
            continue
        # a brand the listing leaves out comes from its title (test below)
        assert item.first("brand") == (clean_text(row["brand"]) or item.first("brand"))
        assert item.first("price") == (row["price"] if row["price"].startswith("$") else None)
        # a feature is a raw bullet's start, or the description's first sentence when there are no bullets
        bullets = [clean_text(f) for f in row["feature"]] or [" ".join(map(clean_text, row["description"]))]
        assert all(any(b.startswith(value) for b in bullets) for value in item.values("feature"))
        assert len(item.text) <= 1000 and item.text.startswith(item.title)


def test_e_gift_cards_get_brand_delivery_and_a_quote_from_their_title_and_description(gift_cards):
    """The 28 "… - E-mail Delivery" listings have only a title and a description; the title names the brand (as
    another listing spells it) and the delivery, the description's lead is quotable."""
    items = by_id(gift_cards)
    dominos = items["B00MV9H6VY"]  # "Dominos Pizza Gift Cards - E-mail Delivery", brand ""
    assert (dominos.first("brand"), dominos.first("delivery")) == ("Domino's Pizza", "e-mail")
    assert items["B0189TCA7E"].first("brand") == "Red Lobster"  # "Red Lobster - E-mail Delivery": the whole name
    assert items["B00MV9O08G"].first("brand") is None  # "Regal Cinemas Gift Cards …": no listing spells it so
    assert items["B00MV9GTFS"].title == "Red Robin Burger Gift Cards - E-mail Delivery"  # raw "… Configuration Asin …"
    assert items["B004LLIKVU"].first("brand") == "Amazon"  # "Amazon eGift Card"
    assert items["B004LLIKVU"].first("delivery") == "e-mail"  # an eGift is e-mailed too
    assert items["B00MV9LSHC"].values("feature") == [
        "Join your neighbors at Applebee's for delicious food and friendly service that can't be beat."]
    physical = items["B004Q7CK9M"]  # "Amazon.com Gift Card in a Greeting Card"
    assert physical.first("delivery") is None
    assert sum(item.first("delivery") == "e-mail" for item in items.values()) == 29


def test_boxed_gift_cards_get_what_their_title_says_they_come_in(gift_cards):
    """The 32 Amazon cards share a brand; what tells them apart (and links a shopper's past tin to a new one) is
    what the title says they come in."""
    items = by_id(gift_cards)
    assert items["B00JDQJZWG"].first("packaging") == "tin"  # "… in a Birthday Cupcake Tin"
    assert items["B004Q7CK9M"].first("packaging") == "greeting card"
    assert items["B014S1KPKG"].first("packaging") == "pop-up reveal"  # "… in a Birthday Reveal (Classic Black …)"
    assert items["B004LLIKVU"].first("packaging") is None  # "Amazon eGift Card": nothing to come in
    assert not any(item.first("packaging") for item in items.values() if "Amazon" not in item.title)
    counts = Counter(item.first("packaging") for item in items.values() if item.first("packaging"))
    assert counts["tin"] == 7 and sum(counts.values()) == 29


def test_a_boxed_card_has_the_design_its_title_gives_the_container(gift_cards):
    """Seven tins share "comes in a tin"; the title's words before the container tell them apart (the card design
    in parentheses does not: "Classic Black Card Design" is on most of them)."""
    items = by_id(gift_cards)
    assert items["B00JDQJZWG"].first("design") == "Birthday Cupcake"  # "… in a Birthday Cupcake Tin"
    assert items["B014S1KPKG"].first("design") == "Birthday"  # "… in a Birthday Reveal (Classic Black Card Design)"
    assert items["B004Q7CK9M"].first("design") is None  # "… in a Greeting Card": nothing but the container
    designs = [item.first("design") for item in items.values() if item.first("design")]
    assert "Black" in designs and not any(d.endswith("Gift") for d in designs)  # "… in a Black Gift Box"
    tins = [item.first("design") for item in items.values() if item.first("packaging") == "tin"]
    assert len(set(tins)) == len(tins) == 7


def test_gift_card_amounts_come_from_the_reviews_style(gift_cards):
    reviews = raw_rows(GIFT_CARDS, "Gift_Cards_5.json.gz")
    seen = Counter(r["style"]["Gift Amount:"].strip() for r in reviews if r["asin"] == "B004Q7CK9M" and "style" in r)
    expected = [amount for amount, _ in seen.most_common() if amount != "0"][:5]
    assert by_id(gift_cards)["B004Q7CK9M"].values("gift_amount") == expected


def test_gift_card_interactions_keep_rating_time_and_review(gift_cards):
    first = gift_cards.interactions[0]
    assert first.model_dump() == {"user_id": "A31UBHTUUIFJUT", "item_id": "B004LLIKVU", "rating": 5.0,
                                  "timestamp": 1529193600, "review": "Five Stars. Another great gift."}


def test_health_catalogue_has_typed_details(hpc):
    assert (len(hpc.items), len(hpc.interactions)) == (1714, 0)
    assert hpc.report.rows_read == {"meta_Health_and_Personal_Care.jsonl.gz": 1714} and not hpc.report.skipped
    items = by_id(hpc)
    powder = items["B075ZXP9XL"]
    assert (powder.first("brand"), powder.first("item_form"), powder.first("color")) == (
        "Buff Juice", "Powder", "Cherry Flavor")
    assert powder.price is None and powder.first("price") is None and powder.popularity == 18
    keto = items["B099GTM278"]
    assert (keto.first("flavor"), keto.first("price"), keto.price, keto.first("unit_count")) == (
        "Chocolate", "$27.95", 27.95, "24.6 Ounce")
    assert keto.values("feature")[1] == "ALL-IN-ONE: MCT's for energy."  # first sentence of the bullet


def test_steam_counts_and_skips_by_reason(steam):
    """32,135 lines -> 32,131 games: 2 rows without id, 612880's second row, and 317160, which has no name at all."""
    assert steam.report.rows_read == {"steam_games.json.gz": 32135, "bundle_data.json.gz": 615,
                                      "user_reviews_flat.csv.gz": 59305, "user_reviews_text_sample.json.gz": 314}
    assert steam.report.skipped == {"games_missing_id": 2, "games_duplicate_id": 1, "games_missing_title": 1,
                                    "user_reviews_exact_duplicate": 874}
    assert len(steam.items) == 32131 and len({i.item_id for i in steam.items}) == 32131
    assert "317160" not in by_id(steam) and "612880" in by_id(steam)
    assert steam.report.repaired == {"games_unparsed_price": 8,  # "Install Now", "Third-party", ...
                                     "user_reviews_posted_year_inferred": 9085, "user_reviews_text_joined": 863}
    assert len(steam.bundles) == 568 and steam.report.unused == {
        "bundles_item_not_in_catalogue": 512, "bundles_without_catalogue_items": 47,
        "user_reviews_item_not_in_catalogue": 5234, "user_reviews_games_not_in_catalogue": 487}


def test_steam_values_trace_to_the_raw_rows(steam):
    items = by_id(steam)
    kitty = items["761140"]
    assert kitty.values("genre") == ["Action", "Casual", "Indie", "Simulation", "Strategy"]
    assert kitty.values("tag") == ["Strategy", "Action", "Indie", "Casual", "Simulation"]
    assert (kitty.first("price"), kitty.price, kitty.first("developer"), kitty.first("release_year")) == (
        "$4.99", 4.99, "Kotoshiro", "2018")
    ironbound = items["643980"]  # raw price "Free To Play"
    assert (ironbound.price, ironbound.first("price"), ironbound.first("sentiment")) == (0.0, "Free", "Mostly Positive")
    assert items["8200"].title == "Sam & Max 101: Culture Shock"  # raw title "Sam &amp; Max ..."
    bundle = next(b for b in steam.bundles if b.bundle_id == "450")
    assert bundle.name == "Dharker Studio 2015 Complete" and bundle.item_ids[:2] == ["348540", "352010"]
    assert "326950" not in bundle.item_ids  # listed in the bundle but not in the games file


def test_steam_free_and_priced_games_follow_the_raw_price(steam):
    items = by_id(steam)
    for row in raw_rows(STEAM, "steam_games.json.gz", python=True, limit=3000):
        item = items.get(row.get("id"))
        if item is None or item.title != clean_text(row.get("app_name")):
            continue  # the duplicate row of 612880
        raw = row.get("price")
        if isinstance(raw, float):
            assert item.price == raw and item.first("price") == f"${raw:,.2f}"
        elif isinstance(raw, str) and raw.lower().startswith("free"):
            assert item.price == 0.0 and item.first("price") == "Free"
        assert item.values("genre") == [clean_text(g) for g in row.get("genres", [])]


def test_load_report_files_are_sha256_of_the_bytes(gift_cards):
    path = DATA_DIR / GIFT_CARDS / "Gift_Cards_5.json.gz"
    assert gift_cards.report.files[path.name] == hashlib.sha256(path.read_bytes()).hexdigest()


# --- registry, detection and fingerprint ----------------------------------------------------------------------


def test_unknown_names_fail_with_a_suggestion(tmp_path):
    with pytest.raises(DatasetError, match="did you mean 'steam'"):
        get_loader("stem")
    with pytest.raises(DatasetError, match="did you mean 'amazon2018_gift_cards'"):
        load_dataset("amazon2018_gift_card", DATA_DIR)
    with pytest.raises(DatasetError):
        load_dataset("../steam", DATA_DIR / GIFT_CARDS)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="no known dataset files"):
        load_dataset("empty", tmp_path)


def test_format_comes_from_file_names_not_the_folder_name(tmp_path):
    folder = tmp_path / "my_download"
    shutil.copytree(DATA_DIR / GIFT_CARDS, folder)
    dataset = load_dataset("my_download", tmp_path)
    assert (len(dataset.items), len(dataset.interactions)) == (148, 2972)
    assert dataset.items[0].source == "my_download"


def test_fingerprint_follows_content_not_location(tmp_path):
    shutil.copytree(DATA_DIR / HPC, tmp_path / "copy")
    original = dataset_fingerprint(HPC, DATA_DIR)
    assert dataset_fingerprint("copy", tmp_path) == original
    with gzip.open(tmp_path / "copy" / "meta_Health_and_Personal_Care.jsonl.gz", "ab") as handle:
        handle.write(b'{"parent_asin": "NEW", "title": "x"}\n')
    assert dataset_fingerprint("copy", tmp_path) != original


# --- damaged and full-size-format files ----------------------------------------------------------------------


def write_lines(path: Path, lines: list[str | bytes | dict]) -> None:
    data = b"".join((line if isinstance(line, bytes) else (
        json.dumps(line) if isinstance(line, dict) else line).encode()) + b"\n" for line in lines)
    path.write_bytes(gzip.compress(data) if path.name.endswith(".gz") else data)


def meta_2018(asin: str, **fields) -> dict:
    return {"asin": asin, "title": f"Card {asin}", "brand": "Acme", "price": "", "feature": [], "description": [],
            "category": ["Gift Cards"], "details": {}, **fields}


def review_2018(user: str, asin: str, when: int = 1500000000, **fields) -> dict:
    return {"reviewerID": user, "asin": asin, "overall": 4.0, "unixReviewTime": when, "summary": "Good",
            "reviewText": "Nice card", **fields}


def test_amazon2018_full_reviews_with_every_kind_of_bad_row(tmp_path):
    folder = tmp_path / "gifts"
    folder.mkdir()
    write_lines(folder / "meta_Gift_Cards.json.gz", [
        meta_2018("A1", price="$1,299.00", brand="Smith &amp; Co",
                  details={"\n    Product Dimensions: \n    ": "3 x 2", "ASIN:": "A1"}),
        meta_2018("A2", title='<span class="a-size-large"></span>'),  # broken, nothing to repair it from
        meta_2018("A3", title='<span id="productTitle">Pizza Card</span>'),  # repaired by removing the tags
        meta_2018("A4", description=["<p>" + "long words " * 100_000 + "</p>"], feature=["x" * 500]),
        meta_2018("A1", title="second row of A1"),
        {"title": "no asin"},
        b"\xff\xfe not utf-8 \xff",
        '{"asin": "A5", "title": ',
        meta_2018("A6", price="Free"),
        meta_2018("UNREVIEWED"),
    ])
    write_lines(folder / "Gift_Cards.json.gz", [  # the full-reviews file name: no _5
        review_2018("u1", "A1"), review_2018("u1", "A1"),  # exact duplicate
        review_2018("u1", "A1", reviewText="another review the same day"),  # same user/item/day, new text: kept
        review_2018("u2", "A2"), review_2018("u2", "A3", style={"Gift Amount:": " 25"}),
        review_2018("u3", "A4"), review_2018("u3", "A6"), review_2018("u4", "NO_META"),
        {"asin": "A1", "overall": 5.0},
    ])
    dataset = load_dataset("gifts", tmp_path)
    items, report = by_id(dataset), dataset.report
    assert sorted(items) == ["A1", "A3", "A4", "A6"]
    assert items["A1"].price == 1299.0 and items["A1"].first("price") == "$1,299.00"
    assert items["A1"].first("brand") == "Smith & Co" and items["A1"].title == "Card A1"
    assert items["A1"].first("product_dimensions") == "3 x 2" and items["A1"].first("asin") is None
    assert items["A3"].title == "Pizza Card" and items["A3"].values("gift_amount") == ["25"]
    assert len(items["A4"].text) <= 1000 and items["A4"].first("feature") == "x" * 120  # 1 MB description, capped
    assert items["A6"].price == 0.0
    assert report.skipped == {"meta_broken_title": 1, "meta_duplicate_id": 1, "meta_missing_id": 1,
                              "meta_undecodable_line": 1, "meta_unparseable_line": 1,
                              "reviews_duplicate_interaction": 1, "reviews_missing_id": 1}
    assert report.repaired == {"meta_title_html_stripped": 1}
    assert report.unused == {"meta_without_interactions": 1, "reviews_item_not_in_catalogue": 2}
    assert len(dataset.interactions) == 5 and items["A1"].popularity == 2
    assert report.rows_read == {"meta_Gift_Cards.json.gz": 10, "Gift_Cards.json.gz": 9}


def test_five_core_is_preferred_over_full_reviews(tmp_path):
    folder = tmp_path / "both"
    folder.mkdir()
    write_lines(folder / "meta_X.json.gz", [meta_2018("A1"), meta_2018("A2")])
    write_lines(folder / "X_5.json.gz", [review_2018("u1", "A1")])
    write_lines(folder / "X.json.gz", [review_2018("u1", "A1"), review_2018("u2", "A2")])
    assert [i.item_id for i in load_dataset("both", tmp_path).items] == ["A1"]


def test_truncated_gzip_keeps_every_complete_line(tmp_path):
    folder = tmp_path / "cut"
    folder.mkdir()
    rows = [{"parent_asin": f"P{n:05d}", "title": f"Vitamin {n} " + "filler text " * (n % 7),
             "price": n / 10, "rating_number": n} for n in range(3000)]
    whole = gzip.compress("".join(json.dumps(r) + "\n" for r in rows).encode())
    cut = whole[: len(whole) * 2 // 3]
    (folder / "meta_Vitamins.jsonl.gz").write_bytes(cut)
    recoverable = zlib.decompressobj(31).decompress(cut).count(b"\n")
    dataset = load_dataset("cut", tmp_path)
    assert 0 < recoverable < 3000
    assert [i.item_id for i in dataset.items] == [f"P{n:05d}" for n in range(recoverable)]
    assert dataset.report.skipped["meta_truncated_gzip"] == 1
    assert dataset.report.skipped["meta_unparseable_line"] == 1  # the torn last line


def test_amazon2023_reviews_in_milliseconds_join_the_metadata(tmp_path):
    folder = tmp_path / "beauty"
    folder.mkdir()
    write_lines(folder / "meta_Beauty.jsonl", [  # plain .jsonl works as well as .jsonl.gz
        {"parent_asin": "P1", "title": "Rose Oil", "store": "Petal", "price": 12.5, "rating_number": 40,
         "main_category": "All Beauty", "categories": [], "features": ["Cold pressed. Vegan."],
         "description": ["A light oil."], "details": {"Item Form": "Oil", "Scent": "Rose", "UPC": "123"}},
        {"parent_asin": "P2", "title": "Clay Mask", "store": "Earth", "price": None, "details": {"Brand": "Terra"}},
        {"parent_asin": "P3", "title": "Unreviewed", "price": None},
    ])
    write_lines(folder / "Beauty.jsonl.gz", [
        {"user_id": "U1", "parent_asin": "P1", "asin": "C1", "rating": 5.0, "title": "Love it",
         "text": "Smells great", "timestamp": 1588687728923},
        {"user_id": "U1", "parent_asin": "P2", "rating": 3.0, "title": "", "text": "ok", "timestamp": 1600000000000},
        {"user_id": "U2", "parent_asin": "P9", "rating": 1.0, "title": "", "text": "", "timestamp": 1600000000000},
    ])
    dataset = load_dataset("beauty", tmp_path)
    items = by_id(dataset)
    assert sorted(items) == ["P1", "P2"] and dataset.report.unused == {
        "meta_without_interactions": 1, "reviews_item_not_in_catalogue": 1}
    first = dataset.interactions[0]
    assert (first.item_id, first.timestamp, first.review) == ("P1", 1588687728, "Love it. Smells great")
    oil = items["P1"]
    assert oil.attributes == [("brand", "Petal"), ("price", "$12.50"), ("category", "All Beauty"),
                              ("item_form", "Oil"), ("scent", "Rose"), ("feature", "Cold pressed.")]
    assert oil.popularity == 40 and items["P2"].first("brand") == "Terra"


def steam_game(app_id: str | None, name: str, price, **fields) -> str:
    row = {"app_name": name, "genres": ["Action"], "tags": ["Shooter"], "price": price, **fields}
    if app_id is not None:
        row["id"] = app_id
    return repr(row)  # a Python-literal line, like the real file


def test_steam_with_australian_user_files(tmp_path):
    folder = tmp_path / "steam_full"
    folder.mkdir()
    write_lines(folder / "steam_games.json.gz", [
        "{u'app_name': u'Counter-Strike', u'genres': [u'Action'], u'price': 9.99, u'id': u'10', u'specs': None}",
        steam_game("20", "Team Fortress Classic", "Free to Play"),
        steam_game("30", "Day of Defeat", "", developer="Valve"),
        steam_game("40", "Deathmatch Classic", "Install Now"),
        steam_game(None, "No id", 1.0),
        steam_game("10", "Counter-Strike again", 9.99),
        "__import__('os').system('echo pwned')",  # never evaluated
    ])
    write_lines(folder / "bundle_data.json.gz", [repr(
        {"bundle_id": "1", "bundle_name": "Valve Pack", "items": [{"item_id": "10"}, {"item_id": "999"}]})])
    write_lines(folder / "australian_user_reviews.json.gz", [repr({"user_id": "u1", "reviews": [
        {"item_id": "10", "recommend": True, "review": "Classic &amp; fun", "posted": "Posted November 5, 2011."},
        {"item_id": "20", "recommend": False, "review": "meh", "posted": "Posted July 15."},
        {"item_id": "777", "recommend": True, "review": "not sold any more", "posted": "Posted May 1, 2014."}]})])
    write_lines(folder / "australian_users_items.json.gz", [
        repr({"user_id": "u1", "items": [{"item_id": "10", "item_name": "Counter-Strike", "playtime_forever": 60}]}),
        repr({"user_id": "u2", "items": [{"item_id": "10", "item_name": "Counter-Strike", "playtime_forever": 5},
                                         {"item_id": "30", "item_name": "Day of Defeat", "playtime_forever": 0}]}),
        repr({"items": []}),
    ])
    dataset = load_dataset("steam_full", tmp_path)
    items, report = by_id(dataset), dataset.report
    assert sorted(items) == ["10", "20", "30", "40"]
    assert [(items[i].price, items[i].first("price")) for i in ("10", "20", "30", "40")] == [
        (9.99, "$9.99"), (0.0, "Free"), (None, None), (None, None)]
    assert report.skipped == {"games_missing_id": 1, "games_duplicate_id": 1, "games_unparseable_line": 1,
                              "user_items_missing_user_id": 1}
    assert report.repaired == {"games_unparsed_price": 1, "user_reviews_posted_year_inferred": 1}
    assert report.unused == {"bundles_item_not_in_catalogue": 1, "user_reviews_item_not_in_catalogue": 1,
                             "user_reviews_games_not_in_catalogue": 1, "user_items_already_reviewed": 1,
                             "user_items_never_played": 1}
    reviews = [(i.user_id, i.item_id, i.rating, i.timestamp, i.review) for i in dataset.interactions]
    # "Posted July 15." takes the year after the file's latest explicit year (2014): 2015-07-15
    assert reviews == [("u1", "10", 1.0, 1320451200, "Classic & fun"), ("u1", "20", 0.0, 1436918400, "meh"),
                       ("u2", "10", None, 0, "")]
    assert items["10"].popularity == 2 and items["30"].popularity == 0
    assert dataset.bundles[0].item_ids == ["10"]


# --- normalisation rules --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("raw", "expected"), [
    ("$1,299.00", (1299.0, False)), ("Free to Play", (0.0, False)), ("Free To Play", (0.0, False)),
    ("", (None, False)), (None, (None, False)), (4.99, (4.99, False)), ("Starting at $499.00", (499.0, False)),
    ("Install Now", (None, True)), (".a-box-inner{background-color:#fff}", (None, True)), (-1.0, (None, True)),
])
def test_parse_price(raw, expected):
    assert parse_price(raw) == expected


def test_small_rules():
    assert format_price(40.0) == "$40.00" and format_price(1250) == "$1,250.00" and format_price(0.0) == "Free"
    assert clean_text("  Maggiano&#39;s <b>Gift</b>\n Card ") == "Maggiano's Gift Card"
    assert clean_text("fits a < b") == "fits a < b"
    assert pick_title([("app_name", None), ("title", "Portal")]) == ("Portal", "title_from_title")
    assert pick_title([("title", '<div class="a-section a-spacing-none"')]) == (None, "broken_title")
    assert trim_feature("Durable. Lasts for years.") == "Durable."
    assert trim_feature("ADVANCED AMINO vs. BCAA'S: only 3 amino acids. More.") == "ADVANCED AMINO vs. BCAA'S: only 3 amino acids."
    # an initialism's full stops end no sentence: the bullet was quoted on a card as “T.G.I”
    assert trim_feature("T.G.I. Friday's offers a unique dining experience. Redeem anywhere.") == (
        "T.G.I. Friday's offers a unique dining experience.")
    long = trim_feature("word " * 60)
    assert long is not None and len(long) <= 120 and ("word " * 60).startswith(long)
    # a description's lead is quoted whole or not at all
    assert quotable_sentence(["Red Lobster is Americas favorite seafood restaurant.", "For locations, visit us."]
                             ) == "Red Lobster is Americas favorite seafood restaurant."
    assert quotable_sentence("Old Fashion Goodness. Relax and enjoy real home-style food.") is None  # a 3-word lead
    assert quotable_sentence("word " * 30 + "ends here.") is None  # too long to quote, never cut
    assert quotable_sentence("Try Dominos Artisan Pizza or Parmesan Bread Bites Order at www.dominos.com") is None
