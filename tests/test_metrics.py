"""Every metric against values computed by hand on tiny examples (STYLE.md #5)."""

import math

import pytest

from eval.metrics import distinct, evaluate, feature_vocabulary, features_in, get_metric, metric_names, score_example
from eval.metrics.faithfulness import (citation_coverage, cites_what_it_says, claim_precision, contradiction,
                                       duplicates, hallucination, history_grounding_precision, in_history,
                                       outside_candidates)
from eval.metrics.ranking import hr1, hr5, hr10, mrr, ndcg10
from eval.metrics.text import (bleu1, bleu4, feature_coverage_ratio, feature_diversity, feature_match, rouge1,
                               top_text_share, unique_sentence_ratio)

pytestmark = pytest.mark.fast  # no model decode, no index build

SUPPORTED_ATTR = {"kind": "attribute", "verdict": "supported"}
UNSUPPORTED_ATTR = {"kind": "attribute", "verdict": "unsupported"}
SUPPORTED_PAST = {"kind": "history", "verdict": "supported"}
UNSUPPORTED_PAST = {"kind": "history", "verdict": "unsupported"}


# -- faithfulness ------------------------------------------------------------------------------------------------
def test_claim_precision_is_supported_over_total_and_nan_without_claims():
    assert claim_precision([SUPPORTED_ATTR, UNSUPPORTED_ATTR, SUPPORTED_PAST]) == pytest.approx(2 / 3)
    assert math.isnan(claim_precision([]))


def test_one_unsupported_claim_makes_a_hallucinating_reason_and_one_supported_claim_a_cited_one():
    mixed = [SUPPORTED_ATTR, UNSUPPORTED_ATTR]
    assert hallucination(mixed) == 1.0 and citation_coverage(mixed) == 1.0
    assert hallucination([SUPPORTED_ATTR]) == 0.0
    assert citation_coverage([UNSUPPORTED_ATTR]) == 0.0 and citation_coverage([]) == 0.0


def test_history_grounding_counts_only_history_claims():
    assert history_grounding_precision([SUPPORTED_PAST, UNSUPPORTED_PAST, UNSUPPORTED_ATTR]) == 0.5
    assert math.isnan(history_grounding_precision([SUPPORTED_ATTR]))


def test_a_reply_cites_what_it_says_when_its_cited_facts_are_the_facts_its_sentence_states():
    """v15 under a grammar that split its JSON ('"' then ',"') cited one handle and wrote two facts: the card was
    right (the verifier shows what the sentence states), the model's citation was not."""
    design = {"kind": "attribute", "attribute": "design", "value": "Polka Dot", "verdict": "supported"}
    brand = {"kind": "attribute", "attribute": "brand", "value": "Amazon", "verdict": "supported"}
    asked = {"kind": "request", "attribute": "tag", "value": "Horror", "verdict": "supported"}
    horror = {"kind": "attribute", "attribute": "tag", "value": "Horror", "verdict": "supported"}
    assert cites_what_it_says([design, brand], [brand, design]) == 1.0
    assert cites_what_it_says([design], [design, brand]) == 0.0  # says the brand without citing it
    assert cites_what_it_says([design, brand], [design]) == 0.0  # cites the brand, never says it
    assert cites_what_it_says([asked], [horror]) == 1.0  # the request and the attribute meeting it: one fact
    assert cites_what_it_says([dict(design, verdict="unsupported")], []) == 0.0
    assert math.isnan(cites_what_it_says([], [design]))


def test_contradiction_is_any_text_problem():
    assert contradiction(["states brand 'Amazon' which the item does not have"]) == 1.0
    assert contradiction([]) == 0.0


def test_item_id_errors_flag_an_output_once_as_reclm_eval_does():
    assert duplicates(["A", "B", "A", "A"]) == 1.0 and duplicates(["A", "B"]) == 0.0
    assert outside_candidates(["A", "X"], candidate_ids=["A", "B"]) == 1.0
    assert outside_candidates(["B", "A"], candidate_ids=["A", "B"]) == 0.0
    assert in_history(["A", "H"], history_ids=["H"]) == 1.0 and in_history(["A"], history_ids=["H"]) == 0.0
    assert math.isnan(duplicates([])) and math.isnan(outside_candidates([], ["A"]))


# -- explanation vs the held-out review (PETER / PEPLER) -------------------------------------------------------
VOCAB = feature_vocabulary({"brand": {"Starbucks", "Amazon", "Olive Garden", "IHOP", "Panda Express", "Express"}})
GENERATED = ["Great Starbucks card for coffee lovers.",
             "Starbucks and Amazon in one gift.",
             "An Olive Garden dinner for two."]
REVIEWS = ["My sister loves Starbucks", "We went to IHOP", "Nice gift"]


def test_features_are_catalogue_values_matched_longest_first():
    assert features_in("Dinner at panda-express!", VOCAB) == {"Panda Express"}  # not also "Express"
    assert features_in("starbucks AND amazon", VOCAB) == {"Starbucks", "Amazon"}
    assert features_in("a card", VOCAB) == set()


def test_a_feature_named_the_is_found_without_it_unless_another_is_spelled_so():
    """"your Cheesecake Factory card" names The Cheesecake Factory; "Forest" stays the tag Forest, not The Forest.
    FCR counts each feature once, whatever its spellings."""
    vocab = feature_vocabulary({"brand": {"The Cheesecake Factory"}, "tag": {"Forest", "The Forest"}})
    assert features_in("your Cheesecake Factory card", vocab) == {"The Cheesecake Factory"}
    assert features_in("is tagged Forest", vocab) == {"Forest"}
    assert features_in("like The Forest", vocab) == {"The Forest"}
    assert distinct(vocab) == ["Forest", "The Cheesecake Factory", "The Forest"]


def test_peter_div_fcr_fmr_on_three_sentences():
    feats = [features_in(g, VOCAB) for g in GENERATED]
    assert feats == [{"Starbucks"}, {"Starbucks", "Amazon"}, {"Olive Garden"}]
    # DIV: pairs (1,2) share Starbucks, (1,3) and (2,3) share nothing -> (1 + 0 + 0) / 3
    assert feature_diversity(feats) == pytest.approx(1 / 3)
    # FCR: 3 distinct features named / 6 in the vocabulary
    assert feature_coverage_ratio(feats, list(VOCAB)) == pytest.approx(3 / 6)
    # FMR: review 1 names Starbucks (matched), review 2 names IHOP (missed), review 3 names none (left out)
    refs = [features_in(r, VOCAB) for r in REVIEWS]
    per_example = [feature_match(f, r) for f, r in zip(feats, refs)]
    assert per_example[:2] == [1.0, 0.0] and math.isnan(per_example[2])
    examples = [{"generated_features": f, "reference_features": r} for f, r in zip(feats, refs)]
    assert evaluate(["fmr"], examples)["fmr"].value == 0.5 and evaluate(["fmr"], examples)["fmr"].n == 2


def test_usr_counts_sentences_that_differ_only_in_case_and_punctuation_as_one():
    assert unique_sentence_ratio(["Great card.", "great card", "Another one"]) == pytest.approx(2 / 3)


def test_top_text_share_is_the_commonest_sentence_over_all_reasons():
    assert top_text_share(["Great card.", "great card", "Another one", "A third"]) == pytest.approx(2 / 4)
    assert top_text_share(["one", "two"]) == pytest.approx(1 / 2)  # all distinct: 1/n


def test_bleu_is_corpus_level_with_brevity_penalty():
    generated = ["a great gift card for my mom", "the cat sat"]
    reference = ["great gift card for mom", "the cat sat on the mat"]
    # unigram precision 8/10; hypothesis 10 tokens vs reference 11 -> BP = exp(1 - 11/10)
    assert bleu1(generated, reference) == pytest.approx(100 * 0.8 * math.exp(1 - 11 / 10), abs=1e-6)
    assert bleu4(["the same sentence here"], ["the same sentence here"]) == pytest.approx(100.0)
    assert bleu4(["nothing in common"], ["entirely different words"]) == 0.0


def test_rouge_1_is_the_f_measure_of_unigram_overlap():
    # precision 3/3, recall 3/6 -> F = 2 * 1 * 0.5 / 1.5
    assert rouge1("the cat sat", "the cat sat on the mat") == pytest.approx(100 * 2 / 3)
    assert rouge1("", "anything") == 0.0


# -- ranking -----------------------------------------------------------------------------------------------------
def test_hit_rate_ndcg_and_mrr_on_three_users():
    ranks = [1, 3, 12]
    scores = evaluate(metric_names("ranking"), [{"rank": r} for r in ranks])
    assert scores["hr@1"].value == pytest.approx(1 / 3)
    assert scores["hr@5"].value == pytest.approx(2 / 3) and scores["hr@10"].value == pytest.approx(2 / 3)
    assert scores["ndcg@10"].value == pytest.approx((1 + 1 / math.log2(4) + 0) / 3)  # rank 3 -> 1/log2(4) = 0.5
    assert scores["mrr"].value == pytest.approx((1 + 1 / 3 + 1 / 12) / 3)
    assert (hr1(2), hr5(5), hr10(11), ndcg10(11), mrr(4)) == (0.0, 1.0, 0.0, 0.0, 0.25)


# -- the registry ------------------------------------------------------------------------------------------------
def test_registry_knows_direction_and_inputs_and_suggests_close_names():
    assert get_metric("div").higher_is_better is False and get_metric("ndcg@10").higher_is_better is True
    assert get_metric("history_grounding_precision").requires == ("claims",)
    with pytest.raises(KeyError, match="did you mean ndcg@10"):
        get_metric("ndcg10")


def test_nan_examples_are_left_out_of_the_mean_and_missing_inputs_give_nan():
    examples = [{"claims": [SUPPORTED_ATTR]}, {"claims": []}, {"claims": [UNSUPPORTED_ATTR, SUPPORTED_ATTR]}]
    score = evaluate(["claim_precision"], examples)["claim_precision"]
    assert score.value == pytest.approx((1 + 0.5) / 2) and score.n == 2
    assert math.isnan(score_example("claim_precision", {"text": "no claims field"}))


def test_every_metric_documents_its_range():
    for name in metric_names():
        doc = get_metric(name).fn.__doc__
        assert doc and ("Range" in doc or "[0, 1]" in doc), name


# -- one backend against another on the same pairs (eval/paired.py) -----------------------------------------------
def _row(user, text, features=(), review=("Starbucks",)):
    reason = {"text": text, "claims": [], "problems": [], "fallback": False}
    return {"user_id": user, "item_id": "S", "review": "", "raw": reason, "displayed": reason,
            "features": {"displayed": list(features), "review": list(review), "raw": []}}


def test_a_paired_gap_is_told_from_chance_only_when_the_pairs_show_it():
    from eval.paired import paired_difference, paired_rows

    varied = [_row(f"u{i}", f"Reason number {i}.") for i in range(30)]
    one_text = [_row(f"u{i}", "Category: Gift Cards.") for i in range(30)]
    same = paired_difference("usr", varied, varied)
    assert (same.value, same.p, same.n) == (0.0, 1.0, 30)
    template = paired_difference("usr", varied, one_text)  # every pair's reason the same: a template
    assert template.value == pytest.approx(1 / 30 - 1.0) and template.p < 0.01
    # one reason in 30 naming the reviewed store moves FMR by 0.033: no evidence either way
    named = varied[:29] + [_row("u29", "It comes from Starbucks.", features=["Starbucks"])]
    small = paired_difference("fmr", varied, named)
    assert small.value == pytest.approx(1 / 30) and small.p > 0.5
    # pairs are matched by shopper and item; a row with an error is left out
    first, other = paired_rows(varied[:3], [varied[2], varied[0], {**varied[1], "error": "timeout"}])
    assert [r["user_id"] for r in first] == [r["user_id"] for r in other] == ["u0", "u2"]
