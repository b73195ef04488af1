"""Usefulness of reasons (issue 16): each degenerate kind with the real bad reasons quoted in the issue and a
reason that is fine, every metric on tiny hand-computed cases, and `whyrec eval score` on a file written here."""

import json
import math
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from agent.catalogue import Catalogue
from agent.cli import main as cli
from agent.text_quality import (DEGENERATE_KINDS, FINAL_KINDS, degenerate_kinds, doomed_kinds, is_vacuous,
                                longest_common_run, specificity, value_frequencies)
from agent.understand import Facet
from eval.explain_eval import explain_metrics, usefulness_context
from eval.metrics import evaluate, feature_vocabulary, get_metric, metric_names
from eval.metrics.usefulness import (asked_fact, claim_specificity, constraint_violation, degenerate, disliked_history,
                                     identical_reasons, jaccard, model_written, past_item_link, pick_violations,
                                     similar_reasons, vacuous_claim_share)
from index.models import Dataset, Interaction, Item, LoadReport

pytestmark = pytest.mark.fast

GRID_REQUEST = "Recommend something for me based on my past purchases."


# -- degenerate text: one positive (from issue 16) and one negative per kind -------------------------------------
@pytest.mark.parametrize("kind, text, title, asked", [
    ("repeated_ngram", "The Panera Bread Gift Card is a Panera Bread gift card that is a Panera Bread gift card",
     "Panera Bread Gift Card", GRID_REQUEST),
    ("repeated_ngram", "It's a great way to treat a friend and is listed as “It's a great way to treat a friend”.",
     "Olive Garden Gift Card", GRID_REQUEST),  # a quote said twice is still said twice
    ("repeated_phrase", "Genre Free to Play, as you asked; tag Free to Play, as you asked", "Warframe",
     "a free to play game"),
    ("title_only", "IHOP Gift Card", "IHOP Gift Card", GRID_REQUEST),
    ("title_only", "The Amazon.com Gift Card in a Red Gift Box Reveal",
     "Amazon.com Gift Card in a Red Gift Box Reveal (Classic Black Card Design)", GRID_REQUEST),
    ("prompt_echo", "Shopper request: Amazon.com Gift Card in a Santa Smile Tin",
     "Amazon.com Gift Card in a Santa Smile Tin", GRID_REQUEST),
    ("prompt_echo", "Category: Gift Cards.", "Darden Restaurants Gift Card", GRID_REQUEST),
    ("prompt_echo", "The [brand] [category] [feature] [a3] is a", "Amazon.com Gift Card", GRID_REQUEST),
    ("prompt_echo", "The gift that lets them fly to 85+ destinations.</text>", "Southwest Airlines Gift Card", ""),
    ("prompt_echo", "A7 and A6 are tagged Sandbox and Singleplayer.", "From Dust", GRID_REQUEST),
    ("prompt_echo", "The shopper asked for a cheaper option, but it's actually a gift card from Domino's Pizza.",
     "Domino's Pizza Gift Card", "cheaper"),
    ("request_echo", "An electric toothbrush under $30", "Oral-B Pro 1000 Rechargeable Toothbrush",
     "an electric toothbrush under $30"),
    ("too_short", "Category: Gift Cards.", "Olive Garden Gift Card", ""),
    ("first_person", "I've been shopping there for 10 years", "Target Gift Card", ""),
    ("first_person", "A dinner out that my family loved it at", "Olive Garden Gift Card", ""),
    ("glued_words", "It islisted as “Organic Green Tea Gummies” and costs $12.99.", "Green Tea Gummies, 60 Count",
     ""),  # an adapter's reply on H&PC: a dropped space every other check read past
])
def test_each_degenerate_kind_fires_on_the_bad_reasons_of_issue_16(kind, text, title, asked):
    assert kind in degenerate_kinds(text, title, asked)


@pytest.mark.parametrize("kind, text, title, asked", [
    ("repeated_ngram", "A Panera Bread card for your sister's lunch breaks, under $50.", "Panera Bread Gift Card",
     "a gift card for my sister under $50"),
    ("repeated_phrase", "Free to Play co-op shooter with space ninjas, as you asked.", "Warframe",
     "a free to play game"),
    ("repeated_phrase", "It is listed as “Zaxby's gift cards are perfect for the chicken lovers in your life” and comes "
     "from Zaxby's.", "Zaxby's Gift Card", GRID_REQUEST),  # an adapter's reply: the brand in the quote and after it
    ("title_only", "Pancakes for the whole family at IHOP, no fees and no expiry.", "IHOP Gift Card", GRID_REQUEST),
    ("prompt_echo", "Flights to 85+ destinations with no fees, from Southwest.", "Southwest Airlines Gift Card", ""),
    ("prompt_echo", "A1 Original Sauce in a bottle listed as “Grade A1 steak sauce”.", "A1 Original Sauce", ""),
    ("prompt_echo", "A card the whole family can share, whoever does the shopping.", "Olive Garden Gift Card", ""),
    ("request_echo", "Oral-B rotating head with a pressure sensor, at $24.99.", "Oral-B Pro 1000 Rechargeable",
     "an electric toothbrush under $30"),
    ("too_short", "By Amazon, priced at $25.00.", "Amazon.com Gift Card", ""),
    ("first_person", "T.G.I. Friday's burgers for your next night out.", "T.G.I. Friday's Gift Card", ""),
    ("first_person", "A My Little Pony Gift Card in pink, for fans in the US", "My Little Pony Gift Card", ""),
    ("glued_words", "It is listed as “Perfect forthe holidays” and comes from Amazon.", "Amazon.com Gift Card",
     ""),  # a listing's own typo, quoted, is not the sentence's words
])
def test_a_specific_reason_is_not_that_kind_of_degenerate(kind, text, title, asked):
    assert kind not in degenerate_kinds(text, title, asked)


def test_a_cited_past_items_name_is_not_the_sentence_repeating_itself():
    link = "Worth a look: it shares its brand Red Robin with Red Robin Gift Card (you rated it 5★) and costs $45.00."
    assert degenerate_kinds(link, "Red Robin Gift Card Combo", GRID_REQUEST, ["Red Robin Gift Card"]) == []
    assert "repeated_phrase" in degenerate_kinds(link, "Red Robin Gift Card Combo", GRID_REQUEST)  # named by nobody
    loop = "It shares its tag Co-op with PAYDAY 2 and it shares its tag Co-op with PAYDAY 2."
    assert "repeated_ngram" in degenerate_kinds(loop, "PAYDAY 3", "", ["PAYDAY 2"])  # a loop around a name still loops
    assert doomed_kinds("It shares its brand Red Robin with Red Robin Gift", "Red Robin Combo", "",
                        ["Red Robin Gift Card"]) == []


# -- a reply doomed while it is written (the decoder stops it: settings.abandon_doomed) ---------------------------
@pytest.mark.parametrize("prefix, kind", [
    ("r1: comes from", "prompt_echo"),
    ("The shopper asked for a cheaper", "prompt_echo"),
    ("At Captain D's Seafood, we're dedicated", "first_person"),
    ("a gift card in a Polka Dot Reveal, a gift card in a", "repeated_ngram"),
    ("It islisted as", "glued_words"),
])
def test_a_prefix_is_doomed_once_no_continuation_can_pass(prefix, kind):
    assert kind in doomed_kinds(prefix, "Gift Card", "cheaper")


def test_a_prefix_is_not_doomed_by_what_a_continuation_could_change():
    assert doomed_kinds("The shopper", "x", "") == []  # the last word may still grow ("shoppers")
    assert doomed_kinds("Free to Play, Free to Play", "Warframe", "") == []  # the last clause is still open
    assert doomed_kinds("My Little", "My Little Pony Gift Card", "") == []  # may be the title, which is allowed


def test_every_real_reply_doomed_at_a_word_is_degenerate_in_that_kind_when_whole():
    """Every sentence the models wrote in the committed grid runs, cut after each word: whatever `doomed_kinds`
    says of the cut, `degenerate_kinds` says of the whole sentence (so stopping it early changes no verdict)."""
    seen, doomed = set(), 0
    for path in sorted(Path(__file__).parent.parent.glob("eval/runs/*/samples/*.jsonl")):
        for line in path.read_text().splitlines():
            row = json.loads(line)
            text, title, asked = (row.get("raw") or {}).get("text"), row.get("title", ""), row.get("request", "")
            if not text or (text, title, asked) in seen:
                continue
            seen.add((text, title, asked))
            whole = set(degenerate_kinds(text, title, asked))
            cuts = [m.end() for m in re.finditer(r"\S+", text)]
            early = [set(doomed_kinds(text[:end], title, asked)) for end in cuts]
            assert all(kinds <= whole for kinds in early), (text, title, asked)
            doomed += any(early[:-1])
    assert len(seen) > 1000 and doomed > 300  # the check ran on real loops and echoes, not on nothing
    assert set(FINAL_KINDS) <= set(DEGENERATE_KINDS)


def test_a_good_reason_is_not_degenerate_at_all_and_every_kind_is_documented():
    good = "A Starbucks card for your coffee-loving sister, under $50 as you asked."
    assert degenerate_kinds(good, "Starbucks Gift Card", "a birthday gift card for my sister under $50") == []
    assert set(DEGENERATE_KINDS) == {"repeated_ngram", "repeated_phrase", "title_only", "prompt_echo",
                                     "request_echo", "too_short", "first_person", "glued_words"}


def test_every_line_the_explain_templates_wrap_around_data_is_a_prompt_echo():
    from prompts.loader import TEMPLATE_DIR, get_template

    for path in sorted(TEMPLATE_DIR.glob("explain_*.yaml")):
        template = get_template(path.stem)
        fixed = [line for line in template.user.splitlines() if line.strip() and "{" not in line]
        assert fixed, path
        for line in fixed:
            assert "prompt_echo" in degenerate_kinds(f"{line} Amazon gift card for you", "X", ""), (path, line)


def test_longest_common_run_counts_contiguous_words():
    assert longest_common_run("a b c x d".split(), "q a b c d".split()) == 3
    assert longest_common_run([], ["a"]) == 0


# -- vacuous claims and specificity --------------------------------------------------------------------------------
def _item(item_id: str, *attributes: tuple[str, str], price: float | None = None, title: str = "") -> Item:
    return Item(item_id=item_id, title=title or item_id, text=item_id, attributes=list(attributes), price=price,
                source="test")


ITEMS = [_item("A", ("brand", "X"), ("category", "Gift Cards"), ("feature", "No returns.")),
         _item("B", ("brand", "Y"), ("category", "Gift Cards"), ("feature", "no returns")),
         _item("C", ("brand", "X"), ("category", "gift cards")),
         _item("D", ("brand", "Z"), ("category", "Toys"))]
FREQ = value_frequencies(ITEMS)


def _cite(kind: str, key: str, value: str) -> dict:
    return {"kind": kind, "attribute": key, "value": value, "verdict": "supported"}


def test_value_frequencies_are_shares_of_items_with_case_and_punctuation_ignored():
    assert FREQ[("category", "gift cards")] == 0.75 and FREQ[("feature", "no returns")] == 0.5
    assert FREQ[("brand", "x")] == 0.5 and FREQ[("brand", "z")] == 0.25
    assert is_vacuous(FREQ, "brand", "X") and not is_vacuous(FREQ, "brand", "Y")  # half the catalogue is vacuous
    assert specificity(FREQ, "brand", "Z") == pytest.approx(math.log(4)) and specificity(FREQ, "brand", "Q") is None


def test_vacuous_share_counts_attribute_and_history_links_not_request_claims():
    claims = [_cite("attribute", "category", "Gift Cards"), _cite("history", "brand", "X"),
              _cite("attribute", "brand", "Y"), _cite("request", "price_max", "50")]
    assert vacuous_claim_share(claims, FREQ) == pytest.approx(2 / 3)
    assert math.isnan(vacuous_claim_share([_cite("request", "price_max", "50")], FREQ))


def test_specificity_is_the_mean_idf_of_cited_values_found_in_the_catalogue():
    claims = [_cite("attribute", "category", "Gift Cards"), _cite("attribute", "brand", "Y"),
              _cite("attribute", "brand", "Nowhere")]  # not in the catalogue: no IDF, left out
    assert claim_specificity(claims, FREQ) == pytest.approx((math.log(4 / 3) + math.log(4)) / 2)
    assert math.isnan(claim_specificity([], FREQ))


# -- model-written share, constraints, distinctness ----------------------------------------------------------------
def test_model_written_is_one_unless_the_reason_is_the_rendered_fallback():
    assert model_written(False) == 1.0 and model_written(True) == 0.0


def _facet(key: str, value: str) -> Facet:
    return Facet(handle="r1", key=key, value=value, label=f"{key} {value}")


def test_constraint_violations_of_a_pick():
    steam = _item("G", ("brand", "Valve"), ("genre", "Action"), ("tag", "Co-op"), price=30.0, title="Left 4 Dead 2")
    assert pick_violations(steam, [_facet("price_max", "25")]) == ["price_max 25: price 30.0 vs max 25"]
    assert pick_violations(_item("N"), [_facet("price_max", "25")]) == [
        "no known price, but a budget was asked (price_max 25)"]
    assert len(pick_violations(steam, [_facet("exclude_brand", "Valve"), _facet("genre", "RPG"),
                                       {"key": "exclude_tag", "value": "co-op"}])) == 3
    assert pick_violations(steam, [_facet("price_max", "30"), _facet("genre", "Action"), _facet("tag", "Co-op"),
                                   {"key": "exclude_genre", "value": "Strategy"}]) == []
    assert constraint_violation(steam, [_facet("price_max", "25"), _facet("genre", "Action")]) == 1.0
    assert constraint_violation(steam, [_facet("genre", "Action")]) == 0.0
    assert math.isnan(constraint_violation(steam, [_facet("like_item", "Portal 2")]))  # nothing hard was asked


def test_a_reason_that_says_what_the_shopper_asked_for_counts_only_where_the_pick_has_it():
    cry_of_fear = _item("G", ("tag", "Horror"), ("tag", "Co-op"), ("spec", "Steam Cloud"), price=0.0)
    scary_coop = [_facet("tag", "Horror"), _facet("price_max", "20")]
    assert asked_fact([_cite("request", "tag", "Horror")], cry_of_fear, scary_coop) == 1.0
    assert asked_fact([_cite("attribute", "tag", "horror")], cry_of_fear, scary_coop) == 1.0  # its own value, said
    assert asked_fact([_cite("attribute", "tag", "Co-op"), _cite("attribute", "spec", "Steam Cloud")],
                      cry_of_fear, scary_coop) == 0.0  # true, and silent on the one thing asked
    # nothing asked that a reason could say: a budget every pick meets, a tag this pick lacks
    assert math.isnan(asked_fact([_cite("attribute", "tag", "Co-op")], cry_of_fear, [_facet("price_max", "20")]))
    assert math.isnan(asked_fact([_cite("attribute", "tag", "Co-op")], cry_of_fear, [_facet("tag", "Puzzle")]))


def test_a_history_citation_of_a_past_item_the_shopper_did_not_like_is_counted():
    liked = {"P1": True, "P2": False}
    assert disliked_history([_cite("history", "brand", "Amazon") | {"history_item_id": "P2"},
                             _cite("attribute", "brand", "Amazon")], liked) == 1.0
    assert disliked_history([{"kind": "history", "history_item_id": "P1"},
                             {"kind": "history", "history_item_id": "P2"}], liked) == 0.5
    assert disliked_history([{"kind": "history", "history_item_id": "named"}], liked) == 0.0  # only named: liked
    assert math.isnan(disliked_history([_cite("attribute", "brand", "Amazon")], liked))


def test_a_reason_linking_a_past_item_is_personal_and_without_a_history_none_can_be():
    link = _cite("history", "price", "$25.00") | {"history_item_id": "P1"}
    assert past_item_link([_cite("attribute", "brand", "Amazon"), link], ["P1", "P2"]) == 1.0
    assert past_item_link([_cite("attribute", "brand", "Amazon")], ["P1"]) == 0.0
    assert math.isnan(past_item_link([_cite("attribute", "brand", "Amazon")], []))  # nothing to link to


def test_the_grid_knows_what_each_shopper_liked_by_their_latest_rating():
    ratings = [Interaction(user_id="U", item_id="T1", rating=5.0, timestamp=1),
               Interaction(user_id="U", item_id="T1", rating=2.0, timestamp=2),  # changed their mind: 2★ counts
               Interaction(user_id="U", item_id="T3", rating=4.0, timestamp=1)]
    context = usefulness_context(Catalogue(GIFT), interactions=ratings)
    assert context.liked == {"U": {"T1": False, "T3": True}}
    rows = [_grid_row("T2", "x", "Like T1, which you rated 2★.", True,
                      [{"kind": "history", "history_item_id": "T1", "attribute": "brand", "value": "Amazon"}])]
    assert explain_metrics(rows, {}, context)["disliked_history_rate/displayed"] == {"value": 1.0, "n": 1}


def test_identical_and_similar_reasons_inside_one_answer():
    assert identical_reasons(["Great for coffee.", "great for  coffee", "Pizza night"]) == 1.0
    assert identical_reasons(["Great for coffee.", "Pizza night"]) == 0.0
    assert math.isnan(identical_reasons(["alone"]))
    assert jaccard("a b c d e", "a b c d f") == pytest.approx(4 / 6)
    assert similar_reasons(["a b c d e", "a b c d f", "x y z"]) == pytest.approx(1 / 3)  # one pair of three


def test_usefulness_metrics_are_registered_with_their_direction():
    assert set(metric_names("usefulness")) == {
        "degenerate_rate", "vacuous_claim_share", "claim_specificity", "model_written_share",
        "constraint_violation_rate", "identical_reasons_rate", "similar_reasons_rate", "disliked_history_rate",
        "past_item_link_share", "asked_fact_share"}
    assert not get_metric("degenerate_rate").higher_is_better and get_metric("claim_specificity").higher_is_better
    assert get_metric("asked_fact_share").higher_is_better
    scores = evaluate(["degenerate_rate"], [{"generated": "IHOP Gift Card", "title": "IHOP Gift Card", "request": "",
                                             "names": []},
                                            {"generated": "Pancakes at any IHOP, no fees.", "title": "IHOP Gift Card",
                                             "request": "", "names": []}])
    assert scores["degenerate_rate"].value == 0.5 and degenerate("IHOP Gift Card", "IHOP Gift Card", "", []) == 1.0


# -- a grid cell and `whyrec eval score` ---------------------------------------------------------------------------
GIFT = Dataset(name="tiny", items=[
    _item("T1", ("brand", "Amazon"), ("price", "$25.00"), ("category", "Gift Cards"), price=25.0,
          title="Amazon.com Gift Card in a Birthday Cupcake Tin"),
    _item("T2", ("brand", "IHOP"), ("category", "Gift Cards"), price=None, title="IHOP Gift Card"),
    _item("T3", ("brand", "Starbucks"), ("category", "Gift Cards"), price=10.0, title="Starbucks Gift Card")],
    report=LoadReport(dataset="tiny"))


def _grid_row(item_id: str, raw_text: str, shown: str, fallback: bool, claims: list[dict]) -> dict:
    return {"user_id": "U", "item_id": item_id, "review": "nice", "parsed": True,
            "raw": {"text": raw_text, "claims": claims, "problems": []},
            "displayed": {"text": shown, "claims": claims, "unverified": [], "fallback": fallback, "problems": []},
            "features": {"review": [], "raw": [], "displayed": []}}


def test_a_grid_cell_reports_usefulness_raw_and_displayed():
    rows = [_grid_row("T1", "Category: Gift Cards.", "Category: Gift Cards.", False,
                      [_cite("attribute", "category", "Gift Cards")]),
            _grid_row("T2", "IHOP Gift Card", "Pancakes for the family at IHOP, by IHOP.", True,
                      [_cite("attribute", "brand", "IHOP")])]
    m = explain_metrics(rows, {}, usefulness_context(Catalogue(GIFT), "a gift card under $30"))
    assert m["degenerate_rate/raw"]["value"] == 1.0 and m["degenerate_rate/displayed"]["value"] == 0.5
    assert m["vacuous_claim_share/displayed"]["value"] == 0.5  # "Gift Cards" (every item) is; IHOP (1 of 3) is not
    assert m["model_written_share/displayed"]["value"] == 0.5 and m["model_written_share/raw"]["n"] == 0
    assert m["constraint_violation_rate/displayed"] == {"value": 0.5, "n": 2}  # IHOP has no price, $30 was asked
    assert m["degenerate:prompt_echo/raw"]["value"] == 0.5 and m["degenerate:title_only/raw"]["value"] == 0.5
    assert m["identical_reasons_rate/displayed"]["n"] == 0  # one reason per answer: does not apply


def _gift_card_rows() -> list:
    cupcake, southwest = "B00JDQJZWG", "B00GU2ZZ8Y"  # Amazon $25.00 birthday tin; Southwest Airlines $50.00
    return [
        {"user_id": "A1U1G73EI5IRZF", "item_id": cupcake, "answer_id": "t1",
         "request": "a birthday gift card under $50",
         "text": "A birthday cupcake tin from Amazon, priced at $25.00 and within your $50 budget.",
         "claims": [{"kind": "attribute", "attribute": "brand", "value": "Amazon"},
                    {"kind": "attribute", "attribute": "price", "value": "$25.00"}]},
        {"user_id": "A1U1G73EI5IRZF", "item_id": cupcake, "answer_id": "t1",
         "text": "An Amazon tin for only $12.99, a real bargain for any party."},  # made-up price
        {"user_id": "someone", "item_id": southwest,
         "text": "I've been flying Southwest for 10 years and my family loved it."},  # a story no data supports
        "not json at all", {"user_id": "x", "text": "no item"}, {"item_id": "NOPE", "text": "unknown item"},
        {"item_id": cupcake, "text": "claims of the wrong type", "claims": "brand"},
    ]


def test_eval_score_flags_a_made_up_price_and_a_first_person_story(tmp_path):
    path = tmp_path / "other_system.jsonl"
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in _gift_card_rows()) + "\n")
    result = CliRunner().invoke(cli, ["eval", "score", str(path), "--dataset", "amazon2018_gift_cards", "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    m = out["metrics"]
    assert out["rows"] == 3 and sum(out["malformed"].values()) == 4 and out["malformed"]["not JSON"] == 1
    flagged = {f["row"]: f for f in out["flagged"]}
    assert 0 not in flagged  # the specific, true reason
    assert flagged[1]["problems"] == ["states price $12.99 which the item and request do not support"]
    assert flagged[1]["degenerate"] == [] and flagged[2]["degenerate"] == ["first_person"]
    # text-level faithfulness is the verifier's TextChecker: whatever it finds in a row's text counts once
    with_problems = sum(bool(flagged[r]["problems"]) for r in (1, 2))
    assert m["contradiction_rate/text"] == {"value": pytest.approx(with_problems / 3), "n": 3}
    assert m["degenerate_rate/text"] == {"value": pytest.approx(1 / 3), "n": 3}  # the story only
    assert m["degenerate:first_person/text"]["value"] == pytest.approx(1 / 3)
    assert m["claim_precision/text"] == {"value": 1.0, "n": 1}
    assert m["constraint_violation_rate/text"] == {"value": 0.0, "n": 1}  # $25 under the asked $50
    assert m["identical_reasons_rate/text"] == {"value": 0.0, "n": 1}  # answer t1 has two different reasons
    table = CliRunner().invoke(cli, ["eval", "score", str(path), "--dataset", "amazon2018_gift_cards"]).output
    assert "degenerate_rate" in table and "row 2 B00GU2ZZ8Y:" in table and "malformed rows: 4" in table


def test_eval_score_on_grid_samples_gives_the_grid_numbers_and_report_rescore_shows_them(tmp_path):
    from index.loaders import load_dataset
    from agent.settings import Settings

    run = tmp_path / "run"
    (run / "samples").mkdir(parents=True)
    cell = "amazon2018_gift_cards__local-base__explain_default"
    rows = [_grid_row("B00JDQJZWG", "Amazon.com Gift Card in a Birthday Cupcake Tin",
                      "By Amazon; priced at $25.00.", True, [_cite("attribute", "brand", "Amazon")]),
            _grid_row("B00GU2ZZ8Y", "Category: Gift Cards.", "Category: Gift Cards.", False,
                      [_cite("attribute", "category", "Gift Cards")]),
            {"user_id": "U", "item_id": "B00GU2ZZ8Y", "error": "RuntimeError: boom"}]
    (run / "samples" / f"{cell}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (run / "results.json").write_text(json.dumps({
        "run_id": "r", "git": {"commit": "0" * 40, "dirty": False}, "limit": None, "grid": {"message": GRID_REQUEST},
        "datasets": {}, "cells": [{"kind": "explain", "cell": cell, "dataset": "amazon2018_gift_cards",
                                   "backend": "local-base", "template": "explain_default", "n": 3, "seconds": 3.0,
                                   "samples": f"samples/{cell}.jsonl", "metrics": {}}]}))
    catalogue = Catalogue(load_dataset("amazon2018_gift_cards", Settings().data_dir))
    grid = explain_metrics(rows, feature_vocabulary(catalogue.vocabulary), usefulness_context(catalogue, GRID_REQUEST))

    result = CliRunner().invoke(cli, ["eval", "score", str(run / "samples" / f"{cell}.jsonl"), "--json"])
    assert result.exit_code == 0, result.output
    scored = json.loads(result.output)
    assert scored["kind"] == "grid" and scored["malformed"] == {"grid error row (the pair failed in the run)": 1}
    assert scored["metrics"]["degenerate_rate/displayed"] == {"value": 0.5, "n": 2}
    assert scored["metrics"]["vacuous_claim_share/displayed"] == {"value": 0.5, "n": 2}  # "Gift Cards": 146 of 148
    for key, entry in grid.items():
        assert scored["metrics"][key]["n"] == entry["n"], key
        expected = None if math.isnan(entry["value"]) else pytest.approx(entry["value"])
        assert scored["metrics"][key]["value"] == expected, key

    result = CliRunner().invoke(cli, ["eval", "report", str(run), "--rescore"])
    assert result.exit_code == 0, result.output
    stored = json.loads((run / "results.json").read_text())["cells"][0]
    assert stored["metrics"]["degenerate_rate/raw"]["value"] == 1.0
    assert "degenerate_rate/raw" in stored["rescored"]["keys"]
    report = (run / "report.md").read_text()
    assert "| degenerate ↓ | vacuous ↓ |" in report and "| 0.500 | 0.500 | " in report
