"""Training data and the LoRA loop, on the real Gift Cards reviews and the real SmolLM2 base model."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from agent.catalogue import squash
from agent.explain import prompt_inputs, reply_model
from agent.settings import Settings
from agent.train.data import (
    GIFT,
    LEAD_SHARE,
    OPEN_REQUESTS,
    STEAM,
    Shape,
    Shoppers,
    _long_pair,
    held_out_examples,
    review_mentions,
    user_examples,
)
from agent.verify import Evidence, TextChecker, verify_claim
from index.loaders import load_dataset
from index.split import get_split, held_out_pairs, known_interactions
from prompts.loader import get_template, templates_of_kind

SETTINGS = Settings()


@pytest.fixture(scope="module")
def gift():
    dataset = load_dataset(GIFT, SETTINGS.data_dir)
    split = get_split(dataset, SETTINGS.data_dir, seed=0)
    templates = templates_of_kind("explain")
    return Shoppers(dataset, templates, Shape(), seed=0), split, templates


@pytest.fixture(scope="module")
def examples(gift):
    cards, split, _ = gift
    counts: Counter[str] = Counter()
    return user_examples(cards, split, counts), counts


def test_no_training_example_is_a_held_out_pair(gift, examples):
    _, split, _ = gift
    made, _ = examples
    held_out = held_out_pairs(split)  # test + validation
    assert made and not any((ex.user_id, ex.item_id) in held_out for ex in made)
    # nor does a held-out item of that user show up as a history item or as the candidate
    for ex in made:
        shown = {p.item.item_id for p in ex.handles.history} | {c.item_id for c in ex.handles.candidates}
        assert not any((ex.user_id, i) in held_out for i in shown)


def test_every_target_claim_verifies_and_fits_the_schema(gift, examples):
    cards, _, _ = gift
    made, _ = examples
    checker = TextChecker(cards.catalogue.vocabulary)
    for ex in made:
        model = reply_model(ex.handles, ex.template, 0)
        assert list(ex.target) == list(model.model_fields)  # claims then text, as the grammar decodes them
        model.model_validate(ex.target)  # its own handles, 1..max_claims of them, text within the length limit
        evidence = Evidence(item=ex.handles.candidates[0], history={p.item.item_id: p.item for p in ex.handles.history},
                            facets=ex.request.facets, message=ex.request.message, stats=ex.handles.stats)
        claims = [verify_claim(ex.handles.to_claim(0, h), evidence) for h in ex.target["claims"]]
        assert all(c.verdict == "supported" for c in claims), claims
        assert checker.problems(ex.target["text"], claims, evidence) == []


def test_targets_say_something_specific_in_varied_words(gift, examples):
    cards, _, _ = gift
    made, counts = examples
    stats = cards.catalogue.stats
    texts = Counter(ex.target["text"] for ex in made)
    assert texts.most_common(1)[0][1] <= 0.03 * len(made)  # sentence plans, not one template
    for ex in made:
        cited = [ex.handles.to_claim(0, h) for h in ex.target["claims"]]
        # never a value most of the catalogue shares ('Category: Gift Cards' taught the last adapter nothing)
        assert not any(c.kind == "attribute" and stats.vacuous(c.attribute, c.value) for c in cited), ex.target
        assert set(ex.review_handles) <= set(ex.target["claims"])  # what the review talks about is said first
    assert sum(bool(ex.review_handles) for ex in made) > 100


def test_open_requests_teach_reasons_that_claim_no_request(gift, examples):
    """A shopper with a history may ask for nothing in particular; then no target says "as you asked"."""
    made, _ = examples
    open_ones = [ex for ex in made if ex.request.message in OPEN_REQUESTS]
    assert open_ones and all(ex.handles.history for ex in open_ones)
    assert len(open_ones) < 0.5 * len(made)  # most requests still name something
    for ex in open_ones:
        assert ex.request.facets == [] and "as you asked" not in ex.target["text"], ex.target


def test_no_held_out_shopper_is_counted_in_what_training_prompts_say_other_shoppers_chose(gift):
    """"is also the choice of 4 shoppers who had your Wendy's card" counts the interactions training may know: a
    held-out pair's shopper had both items, and is among the shoppers only when every interaction is counted."""
    everyone, split, templates = gift
    dataset = load_dataset(GIFT, SETTINGS.data_dir)
    known = Shoppers(dataset, templates, Shape(), seed=0, known=known_interactions(dataset, split, "validation"))
    checked = 0
    for pair in split.test + split.validation:
        for past in split.history[pair.user_id]:
            full = everyone.catalogue.stats.together(pair.item_id, past)
            assert known.catalogue.stats.together(pair.item_id, past) <= full - 1
            checked += 1
    assert checked > 100


def test_gift_requests_ask_what_a_chat_asks_and_the_card_meets(gift, examples):
    """A chat asks for an occasion, a packaging or e-mail delivery as often as for a brand or a budget ("a birthday
    gift card under $50"); an adapter never shown such a request handle echoed "a1:" instead of a sentence. Each
    request names only what its card is made for or comes as, so those handles are ones the card can claim."""
    made, _ = examples
    asked = Counter(f.key for ex in made for f in ex.request.facets)
    assert {"occasion", "packaging", "delivery", "brand", "price_max"} <= set(asked), asked
    for ex in made:
        met = ex.handles.satisfied_facets(0)
        assert all(f in met for f in ex.request.facets if f.key in ("occasion", "packaging", "delivery")), ex.request


def test_a_shopper_with_a_liked_past_item_is_taught_the_personal_link_first(gift, examples):
    """Whatever was asked: "is also the choice of 13 shoppers who had your Olive Garden card (you rated it 5★)" before
    the item's own facts; but not a link through a value the pick's title says ("shares its packaging tin with your
    Santa Tin" of a Snowflake Tin): that one keeps its place among the specific facts, and a common one ("shares its
    brand Amazon with your Black Gift Box" of an Amazon.com card) is never offered (agent/explain.py Handles.shared).
    Nor one through a price alone ("shares its price $50.00 with your Applebee's card": any $50 card does): first
    only where nothing else fits."""
    made, _ = examples

    def link(ex):
        return ex.handles.to_claim(0, f"h{ex.handles.citable_history(0)[0] + 1}")

    linkable = [ex for ex in made if ex.handles.citable_history(0) and ex.template.id == "explain_default"]
    def leads(ex):
        return ex.target["claims"][0] == f"h{ex.handles.citable_history(0)[0] + 1}"

    def rarest(ex):  # no fact of the pick's own is rarer than the link's
        stats, value = ex.handles.stats, link(ex)
        return all(stats.share(k, v) >= stats.share(value.attribute, value.value)
                   for k, v in ex.handles.attributes[0])

    by_price = [ex for ex in linkable if link(ex).attribute == "price"]
    assert by_price and all(len(ex.target["claims"]) == 1 for ex in by_price if leads(ex))
    linkable = [ex for ex in linkable if ex not in by_price]
    in_title = [ex for ex in linkable if squash(link(ex).value or "") in squash(ex.handles.candidates[0].title)]
    assert in_title and all(rarest(ex) for ex in in_title if leads(ex))  # only where it is the rarest fact anyway
    assert not any(link(ex).value == "Amazon" for ex in in_title)  # a fifth of the catalogue: never linked through
    linkable = [ex for ex in linkable if ex not in in_title]
    leading = [ex for ex in linkable if leads(ex)]
    # the rest lost the link to the text checks (a sentence over the limit, or one that says a value twice)
    assert linkable and len(leading) >= 0.8 * len(linkable)
    assert any(ex.request.facets for ex in leading) and any(not ex.request.facets for ex in leading)


def test_the_sentence_plan_follows_the_card_position_the_prompt_shows(gift, examples):
    """Seeded by the item id (which the prompt does not show) the plan was noise the adapter could only average
    ("A pick that …" everywhere); seeded by the kinds of the facts, a Steam answer of five tag links opened "Worth a
    look:" five times. The prompt shows the card's position ("Candidate 3"), and the target of a two-fact sentence
    opens the way its position says: five cards of one answer open five ways."""
    made, _ = examples
    openings: dict[int, Counter[str]] = {}
    for ex in made:
        assert f"Candidate {ex.position + 1}: <data>" in ex.messages[-1].content
        if len(ex.target["claims"]) == 2 and ex.template.generation.reason_max_chars > 80:
            openings.setdefault(ex.position, Counter())[" ".join(str(ex.target["text"]).split()[:2])] += 1
    assert sorted(openings) == [0, 1, 2, 3, 4]
    firsts = [c.most_common(1)[0] for c in openings.values()]
    assert sum(n for _, n in firsts) >= 0.8 * sum(sum(c.values()) for c in openings.values())
    assert len({opening for opening, _ in firsts}) == 5


def test_each_example_is_made_for_one_explain_template_and_fits_its_limits(gift, examples):
    """The adapter serves every explain template, so it is taught each one's limits: explain_terse's sentences
    are at most 80 characters and cite at most two facts."""
    _, _, templates = gift
    made, _ = examples
    by_template = Counter(ex.template.id for ex in made)
    assert set(by_template) == {t.id for t in templates}
    assert min(by_template.values()) > 0.5 * len(made) / len(templates)  # a seeded hash spreads them evenly
    for ex in made:
        assert ex.messages == ex.template.render(**prompt_inputs(ex.request, ex.handles, 0, ex.position))
        assert len(ex.target["text"]) <= ex.template.generation.reason_max_chars
        assert len(ex.target["claims"]) <= ex.template.generation.max_claims


def test_a_long_quote_or_cut_title_leaves_a_target_one_fact(gift, examples):
    """v19 joined long listing quotes and links and ran past the token cap: a two-fact target that quotes or cuts a
    title stays within PAIRED_LONG_CHARS; a short quote still goes with another fact."""
    made, _ = examples
    paired = [ex.target["text"] for ex in made if len(ex.target["claims"]) > 1]
    assert paired and not any(_long_pair(text) for text in paired)
    assert any("“" in text for text in paired)


def test_review_mentions_reads_values_not_sentiment(gift):
    cards, _, _ = gift
    item = next(i for i in cards.catalogue.items.values() if i.first("brand") == "Starbucks")
    shown = [("brand", "Starbucks"), ("price", f"${item.price:.2f}"), ("category", "Gift Cards")]
    assert review_mentions(f"My sister loves Starbucks, the ${item.price:g} card was perfect", item, shown) == ["a1", "a2"]
    assert review_mentions("Five Stars. Great!", item, shown) == []
    assert review_mentions("a nice gift card", item, shown) == ["a3"]


def test_a_review_leads_the_target_only_with_a_value_that_tells_the_card_apart(gift, examples):
    """What the held-in review talks about comes first, unless it is the price (the card's tag shows it) or a value
    a tenth of the catalogue shares: "$25" and "Amazon" in a review made "costs $25.00" and "comes from Amazon"
    targets that told a shopper nothing. A short reason (explain_terse) is not led by a link through a price."""
    cards, _, _ = gift
    made, _ = examples
    builder, stats = cards.builder, cards.catalogue.stats
    claims = [[ex.handles.to_claim(0, h) for h in ex.target["claims"]] for ex in made]
    assert not builder.tells_apart(next(c for cs in claims for c in cs if c.attribute == "price"))
    assert stats.share("brand", "Amazon") >= LEAD_SHARE > stats.share("brand", "Starbucks")
    told = [(ex, cs) for ex, cs in zip(made, claims) if ex.review_handles]
    assert told and any(cs[0].attribute == "brand" for _, cs in told)  # Starbucks, IHOP, … still lead
    for ex, (first, *_) in told:  # one that does not tell it apart leads only as the pick's rarest fact (a1), or
        # the next one on a later card whose a1 was asked for (said last there)
        if first.kind == "attribute" and not builder.tells_apart(first) and not (ex.position and _asked(ex, "a1")):
            assert ex.target["claims"][0] == "a1", (first, ex.target)
    short = [cs[0] for ex, cs in zip(made, claims) if ex.handles.short]  # only where nothing else fits
    assert short and sum(c.kind == "history" and c.attribute == "price" for c in short) <= 0.02 * len(short)


def test_a_short_reason_says_first_what_the_shopper_asked_for(examples):
    """Led by the personal link, v24's terse reasons said what was asked on 10 of 100 asked Steam pairs ("racing game"
    -> "It shares its tag Multiplayer with your Garry's Mod."): a short target of an answer's first card opens with
    the request the pick meets, a longer one keeps the link first and says both."""
    made, _ = examples
    asked_short = [ex for ex in made if ex.handles.short and ex.handles.citable_facets(0) and ex.position == 0]
    first = [_asked(ex, ex.target["claims"][0]) for ex in asked_short]
    assert asked_short and sum(first) >= 0.95 * len(first)  # the rest: no sentence said it and passed the checks
    assert all(said or not any(_asked(ex, h) for h in ex.target["claims"]) for said, ex in zip(first, asked_short))
    assert any(len(ex.target["claims"]) == 2 for ex in asked_short)  # room left for a second fact


def test_a_later_card_says_what_sets_it_apart_before_what_was_asked(examples):
    """Every card of an answer meets the request (a constraint chip shows it): taught to open with it on every card, v26 wrote
    "It is tagged Co-op, as you asked, and also Survival." on nearly every card of an asked Steam answer. A later
    card (the prompt's "Candidate 2" on) says what was asked after its own facts, first only where it has none
    but a link through a price ("shares its price $25.00 with your Starbucks card") or none that fits."""
    made, _ = examples
    later = [ex for ex in made if ex.handles.citable_facets(0) and ex.position > 0]
    opens_asked = [ex for ex in later if _asked(ex, ex.target["claims"][0])]
    assert later and len(opens_asked) <= 0.1 * len(later)
    for ex in opens_asked:
        price_link_after = [h for h in ex.target["claims"][1:] if ex.handles.to_claim(0, h).attribute == "price"]
        assert len(ex.target["claims"]) == 1 + len(price_link_after), ex.target


def _asked(ex, handle: str) -> bool:
    return ex.handles.says_asked(ex.handles.to_claim(0, handle))


def test_examples_are_deterministic(gift):
    cards, split, _ = gift
    user, items = next((u, items) for u, items in split.history.items()
                       if len(items) >= 3 and not isinstance(cards.example(u, items[2], items[:2]), str))
    a, b = cards.example(user, items[2], items[:2]), cards.example(user, items[2], items[:2])
    assert a.completion == b.completion and [m.content for m in a.messages] == [m.content for m in b.messages]


def test_held_out_examples_are_the_test_pairs(gift):
    cards, split, _ = gift
    made = held_out_examples(cards, split, "test", 5)
    assert [(e.user_id, e.item_id) for e in made] == [(p.user_id, p.item_id) for p in split.test[:5]]


def test_steam_users_teach_personal_links_without_held_out_pairs():
    """Steam examples come from held-in games the user recommended; their history is the user's earlier games, and
    some targets link the pick to one of them through a shared value ("shares its tag Co-op with PAYDAY 2")."""
    dataset = load_dataset(STEAM, SETTINGS.data_dir)
    split = get_split(dataset, SETTINGS.data_dir, seed=0)
    shoppers = Shoppers(dataset, [get_template("explain_default")], Shape(), seed=0)
    counts: Counter[str] = Counter()
    made = user_examples(shoppers, split, counts, users=150, per_user=3)
    held_out = held_out_pairs(split)
    assert len(made) > 30 and not any((ex.user_id, ex.item_id) in held_out for ex in made)
    assert all(shoppers.latest[(ex.user_id, ex.item_id)].rating == 1.0 for ex in made)  # recommended games only
    for ex in made:
        assert not any((ex.user_id, p.item.item_id) in held_out for p in ex.handles.history)
        for h in ex.target["claims"]:  # every cited fact is said in the sentence, a history link with its title
            claim = ex.handles.to_claim(0, h)
            assert claim.value.lower() in ex.target["text"].lower(), (claim, ex.target)
    linked = [ex for ex in made if any(h.startswith("h") for h in ex.target["claims"])]
    assert linked and all("you recommended it" in ex.target["text"] for ex in linked)
    # beside "shares its tag Crafting with your Stranded Deep" the game's own fact is one Stranded Deep lacks ("offers
    # MMO"), not "is tagged Survival", where nothing was asked and the pick has such a fact
    def also_had(ex):
        claims = [ex.handles.to_claim(0, h) for h in ex.target["claims"]]
        past = shoppers.catalogue.get(next(c.history_item_id for c in claims if c.kind == "history"))
        has = {(k, v.casefold()) for k, v in past.attributes}
        return any((c.attribute, c.value.casefold()) in has for c in claims if c.kind == "attribute")

    open_pairs = [ex for ex in linked if not ex.request.facets and len(ex.target["claims"]) == 2]
    assert open_pairs and not any(also_had(ex) for ex in open_pairs)


@pytest.mark.slow
def test_train_lowers_the_loss_and_saves_a_peft_adapter(tmp_path):
    import torch
    from click.testing import CliRunner
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    from agent.commands.train import command
    from agent.llm.dtype import choose_dtype

    out = tmp_path / "adapter"
    # the last 6 layers only (`--top-layers`: no backward pass below them), so CI pays for a few layers' gradients
    result = CliRunner().invoke(command, ["--steps", "20", "--batch", "2", "--limit", "8", "--max-len", "512",
                                          "--max-history", "2", "--n-catalogue", "0", "--steam-users", "0",
                                          "--top-layers", "6", "--out", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    record = json.loads((out / "train_config.json").read_text())
    losses = record["losses"]
    assert len(losses) == 20
    assert sum(losses[-5:]) / 5 < 0.7 * sum(losses[:5]) / 5  # 8 examples, 20 steps: it must fit them
    assert [s["dataset"] for s in record["splits"]] == [GIFT] and record["splits"][0]["sha256"] and record["data"]["hash"] and record["config"]["seed"] == 0
    assert record["dtype"] == choose_dtype(Settings().dtype, "cpu")  # trained in the dtype inference would use
    base = AutoModelForCausalLM.from_pretrained(SETTINGS.base_model_dir, dtype=torch.bfloat16)
    model = PeftModel.from_pretrained(base, out)
    lora = [n for n, _ in model.named_parameters() if "lora_A" in n]
    assert any("q_proj" in n for n in lora) and any("o_proj" in n for n in lora)
    assert {int(n.split("layers.")[1].split(".")[0]) for n in lora} == set(range(24, 30))  # SmolLM2: 30 layers


def test_the_completion_loss_is_the_models_own_loss_from_fewer_logits():
    import torch
    from transformers import AutoModelForCausalLM

    from agent.train.loop import Tokenized, collate, completion_loss

    model = AutoModelForCausalLM.from_pretrained(SETTINGS.base_model_dir, dtype=torch.float32)
    rows = [Tokenized(list(range(10, 40)), [-100] * 24 + list(range(34, 40))),  # prompts of 24 and 27 tokens
            Tokenized(list(range(50, 83)), [-100] * 27 + list(range(77, 83)))]
    ids, mask, labels = collate(rows, 0, "cpu")
    with torch.inference_mode():
        full = model(input_ids=ids, attention_mask=mask, labels=labels).loss
        assert torch.allclose(completion_loss(model, ids, mask, labels), full, atol=1e-4)


def test_the_targets_variety_is_measured_on_the_grids_own_pairs():
    """`whyrec eval targets`: what the adapter grid's held-out pairs would be taught (eval/target_variety.py). The
    Amazon cards are told apart by their container's design, and no target is longer than its template allows."""
    from eval.heldout import load_heldout
    from eval.metrics import features_in
    from eval.target_variety import paired_targets, target_texts, target_variety

    heldout = load_heldout(GIFT, SETTINGS.data_dir)
    texts, failed = target_texts(heldout, "explain_terse", limit=30)
    assert len(texts) + failed == 30 and len(texts) >= 25
    assert all(len(t) <= get_template("explain_terse").generation.reason_max_chars for t in texts)
    default, _ = target_texts(heldout, "explain_default", limit=30)
    assert any(" design" in t for t in default)
    scores = target_variety(GIFT, SETTINGS.data_dir, ["explain_default"], limit=30)["explain_default"]
    assert scores["usr"] == round(len(set(default)) / len(default), 3)
    # FMR as the grid scores it: a target naming a feature its pair's held-out review names, of the reviews naming one
    pairs = heldout.pairs[:30]
    named = [features_in(heldout.review(p), heldout.features) for p in pairs]
    assert len(default) == 30 and any(named)
    hits = [bool(features_in(t, heldout.features) & n) for t, n in zip(default, named) if n]
    assert scores["fmr"] == round(sum(hits) / len(hits), 3)
    # `--reason-chars`: the same targets as if a template allowed more; a longer limit says more, never less
    longer = [t for _, t in paired_targets(heldout, "explain_terse", limit=30, reason_chars=140)]
    limit = get_template("explain_terse").generation.reason_max_chars
    assert len(longer) >= len(texts) and max(map(len, longer)) > limit >= max(map(len, texts))
    # `--split validation`: each shopper's card before the test one, never a test pair: where a change is tuned
    validation = load_heldout(GIFT, SETTINGS.data_dir, target="validation")
    test_pairs = {(p.user_id, p.item_id) for p in heldout.pairs}
    assert not test_pairs & {(p.user_id, p.item_id) for p in validation.pairs[:30]}
    tuned = target_variety(GIFT, SETTINGS.data_dir, ["explain_default"], limit=30, split="validation")
    assert tuned["explain_default"]["pairs"] >= 25 and tuned["explain_default"] != scores

