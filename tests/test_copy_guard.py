"""A value the reply copies is copied whole (agent/copy_guard.py): after a lead-in only the item's own values (or
the liked past items that share one) may follow, letter for letter; words that follow no lead-in are free.
The cases are the v12 adapter's Steam contradictions (eval/runs/adapter-20261204T142653Z-90775e01)."""

from __future__ import annotations

import json

import pytest

from agent.catalogue import Catalogue
from agent.copy_guard import CopyGuard
from agent.explain import Handles
from agent.schemas import PastItem
from agent.wording import PLANS_ONE
from index.models import Dataset, Interaction, Item, LoadReport

pytestmark = pytest.mark.fast  # no model decode, no index build

GAME = Item(item_id="g1", title="Star Wars: Republic Commando", text="", source="steam", attributes=[
    ("tag", "Choices Matter"), ("tag", "Story Rich"), ("tag", "Dark"), ("tag", "Offroad"),
    ("spec", "Single-player"), ("genre", "Action"), ("developer", "LucasArts"), ("price", "Free")])
LIKED = Item(item_id="p1", title="STAR WARS™ Republic Commando™", text="", source="steam",
             attributes=[("tag", "Dark"), ("tag", "Offroad")])
OTHER = Item(item_id="p2", title="Darkest Dungeon", text="", source="steam", attributes=[("tag", "Roguelike")])


def _guard() -> CopyGuard:
    return CopyGuard.for_candidate(Handles([GAME], [PastItem(LIKED, 1.0), PastItem(OTHER, 1.0)], []), 0)


def _raw(text: str) -> str:
    """A reply being decoded: its JSON is still open."""
    return '{"claims":["a1"],"text":' + json.dumps(text, ensure_ascii=False)[:-1]


def _next_ok(text: str, more: str) -> bool | None:
    """Whether `more` may follow `text`; None when the guard asks nothing of the next token."""
    copying = _guard().pending(_raw(text))
    return None if copying is None else copying.allows(_raw(text + more))


def test_a_tag_is_finished_as_one_of_the_items_tags():
    assert _next_ok("It is tagged", " Story") is True
    assert _next_ok("It is tagged Story", " Rich") is True
    assert _next_ok("It is tagged Choices", "ieftious") is False  # "Choicesieftious"
    assert _next_ok("It is tagged Choices", " Matter") is True


def test_a_value_already_said_is_not_offered_again():
    assert _next_ok("It shares its tag Choices Matter and is tagged", " Choices") is False
    assert _next_ok("It shares its tag Choices Matter and is tagged", " Story") is True


def test_a_past_item_is_named_as_its_title_and_only_a_liked_one_that_shares_the_value():
    lead = "It shares its tag Dark with"
    assert _next_ok(lead, " STAR WARS") is True
    assert _next_ok(lead + " STAR W", "orthiness") is False  # "STAR Worthiness™ Republic Commando™"
    assert _next_ok(lead, " Darkest") is False  # a past item without tag Dark
    assert _next_ok("It shares its tag Off", "range") is False  # "Offrange" for Offroad
    assert _next_ok("It shares its tag Off", "road") is True


def test_a_reason_links_one_past_item():
    """v24 wrote "… the choice of 3 shoppers who had your Texas Roadhouse card (you rated it 5★) and is also the
    choice of 3 shoppers who had Texas R…" (a loop the verifier rejects): after a said link and " and", no second
    link begins; other facts do."""
    together = "It is also the choice of 3 shoppers who had your Texas Roadhouse card (you rated it 5★) and"
    assert _next_ok(together, " is also") is False
    assert _next_ok(together + " is the", " choice") is False
    assert _next_ok(together + " is", " tagged") is not False
    linked = "It shares its tag Dark with STAR WARS™ Republic Commando™ (you recommended it) and"
    assert _next_ok(linked + " has the", " same") is False


def test_a_sentence_says_the_facts_its_reply_cites():
    """v24 cited "h4" and "a1" (is tagged Open World) of Grand Theft Auto V and wrote "It shares its tag Crime with
    your PAYDAY 2 (you recommended it) and costs $39.99.": true and shown, but not what it cited (17 of 100 Steam
    default reasons); v25 cited "h2" and "a1" and wrote "It is tagged Physics, as you asked, and also Physics." (the
    link unsaid). After a whole phrase and " and", the sentence goes on with the cited facts it has not said."""
    handles = Handles([GAME], [PastItem(LIKED, 1.0)], [])
    guard = CopyGuard.for_candidate(handles, 0)
    link = handles.phrase(0, "h1")
    cited = next(h for h in handles.claim_handles(0) if handles.phrase(0, h) == "is tagged Story Rich")

    def raw(text: str) -> str:
        return '{"claims":["h1","' + cited + '"],"text":' + json.dumps(text, ensure_ascii=False)[:-1]

    said = f"It {link} and"
    assert guard.pending(raw(said)).allows(raw(said + " is tagged Story")) is True
    assert guard.pending(raw(said)).allows(raw(said + " costs")) is False
    assert guard.pending(raw(said + " is tagged Story")).forced() == " Rich"
    this_one = f"This one {link}, and"  # the plan "This one {a}, and it {b}."
    assert guard.pending(raw(this_one)).allows(raw(this_one + " it is")) is True
    # after the other cited fact, the cited link (v25: "It is tagged Physics, as you asked, and also Physics.")
    first = "It is tagged Story Rich and"
    assert guard.pending(raw(first)).allows(raw(first + " shares")) is True
    assert guard.pending(raw(first + " shares")).forced().startswith(" its tag")
    assert guard.pending(raw(first)).allows(raw(first + " also")) is False
    # both said, it ends (v25 went on "… (you recommended it) and offers Stats.", a fact it never cited)
    both = f"{first} {link}"
    assert guard.pending(raw(both)).allows(raw(both + ".")) and not guard.pending(raw(both)).allows(raw(both + " and"))
    # a reply that cites the link alone is not steered
    alone = '{"claims":["h1"],"text":' + json.dumps(said, ensure_ascii=False)[:-1]
    pending = guard.pending(alone)
    assert pending is None or pending.allows(alone + ' costs')


def test_a_listing_line_is_quoted_whole():
    """v24 wrote "is listed as “Redemption: In-Restaurant and OnlineTo" (the bullet's "Online To Go" run together)
    and left quotes open at the length cap: after "is listed as" the quote is one of the listing's own lines."""
    card = Item(item_id="c3", title="Olive Garden Gift Card", text="", source="amazon2018_gift_cards",
                attributes=[("brand", "Olive Garden"), ("feature", "Redemption: In-Restaurant and Online To Go.")])
    guard = CopyGuard.for_candidate(Handles([card], [], []), 0)
    lead = "It is listed as “Redemption: In-Restaurant and Online"
    assert guard.pending(_raw(lead)).allows(_raw(lead + "To")) is False
    assert guard.pending(_raw(lead)).forced() == " To Go”"


def test_a_shared_value_is_one_a_liked_past_item_has_and_goes_on_with_it():
    """v23 wrote "It shares its tag Survival, as you asked, …": a tag of the pick no liked game has, and no past
    item named (the verifier rejects it). After "shares its tag" only a value a liked past item shares may follow,
    then " with" and that item."""
    assert _next_ok("It shares its tag", " Story") is False  # the pick's, but no liked game is Story Rich
    assert _next_ok("It shares its tag", " Dark") is True
    assert _next_ok("It shares its tag Dark", ",") is False
    assert _next_ok("It shares its tag Dark", " with") is True
    assert _guard().pending(_raw("It shares its tag Dark")).forced() == " with"
    alone = CopyGuard.for_candidate(Handles([GAME], [PastItem(OTHER, 1.0)], []), 0)  # shares nothing
    assert alone.pending(_raw("It shares its tag")).allows(_raw("It shares its tag Story")) is True


def test_the_decoder_is_told_how_each_value_goes_on():
    copying = _guard().pending(_raw("It offers"))  # the model's best tokens may hold no spec: these always do
    assert copying.rests == (" Single-player",)
    assert _guard().pending(_raw("It shares its tag Off")).rests == ("road with",)


def test_a_verb_takes_only_values_of_its_own_key():
    assert _next_ok("It offers", " Free") is False  # a price said with a spec's verb
    assert _next_ok("It offers", " Single") is True


def test_a_finished_value_and_free_words_are_not_constrained():
    assert _next_ok("It is tagged Dark and", " RPG") is not False
    assert _next_ok("It is tagged Dark and", " is") is not False
    assert _next_ok("A grim shooter", " with") is not False
    assert _guard().pending('{"claims":["a1"') is None  # the sentence has not begun
    assert _next_ok("It is tagged Dark", ".") is True


def test_a_verb_the_pick_has_nothing_left_for_is_refused_before_its_value():
    """v21 wrote "… and comes from Paradox Interactive" of a game (a game has no brand), "comes in the Early Access
    genre", "comes from American Eagle and comes from American Eagle": the verifier rejects each, so the guard
    refuses the verb's words as soon as they can only become it, and the model says a fact the pick has."""
    assert _next_ok("It is tagged Dark and", " comes") is False  # no brand, packaging or colour
    assert _next_ok("It is tagged Dark and", " Comes") is False
    assert _next_ok("It is tagged Dark and", " comestible") is not False  # a word, not the verb
    night = Item(item_id="p4", title="Comes the Night", text="", source="steam", attributes=[("tag", "Dark")])
    guard = CopyGuard.for_candidate(Handles([GAME], [PastItem(night, 1.0)], []), 0)
    lead = "It shares its tag Dark with"
    assert guard.pending(_raw(lead)).allows(_raw(lead + " Comes")) is True  # a title's words are copied
    assert _next_ok("It is tagged Dark and is", " published") is False  # no publisher
    assert _next_ok("It is tagged Dark and", " is made") is not False  # made by LucasArts
    assert _next_ok("It is made by LucasArts and is", " made by") is False  # its one developer, said
    assert _next_ok("It is made by LucasArts and is", " made for") is not False  # "… the occasion you named"
    egift = Item(item_id="c1", title="Olive Garden eGift Card", text="", source="amazon2018_gift_cards",
                 attributes=[("brand", "Olive Garden"), ("delivery", "e-mail")])
    tin = Item(item_id="c2", title="Amazon.com Gift Card in a Tin", text="", source="amazon2018_gift_cards",
               attributes=[("brand", "Amazon"), ("packaging", "Holiday Tin")])

    def next_ok(item: Item, text: str, more: str) -> bool | None:
        pending = CopyGuard.for_candidate(Handles([item], [], []), 0).pending(_raw(text))
        return None if pending is None else pending.allows(_raw(text + more))

    assert next_ok(egift, "It is delivered by e-mail and comes", " in") is False  # "comes in a $50 amount"
    assert next_ok(egift, "It comes from Olive Garden and", " costs") is False  # no price listed
    assert _next_ok("It is tagged Dark and", " costs") is not False  # Free
    assert next_ok(egift, "It is delivered by e-mail and comes", " from") is not False
    assert next_ok(egift, "It comes from Olive Garden and comes", " from") is False
    assert next_ok(tin, "It comes from Amazon and comes", " in") is not False
    assert next_ok(tin, "It comes from Amazon and comes in", " a") is not False


def test_a_value_is_begun_only_where_it_fits_whole_in_the_reply():
    """v22 ran "… and is tagged Music-Based Procedural Gen" into explain_persuasive's 150 characters; a tag that fits
    is the one copied."""
    game = Item(item_id="g2", title="Riff Racer", text="", source="steam",
                attributes=[("tag", "Music-Based Procedural Generation"), ("tag", "Music")])
    text = "Worth a look: it shares its tag Rhythm with your Audiosurf (you recommended it) and is tagged"
    for room, choices in ((150, (" Music", " Music-Based Procedural Generation")), (120, (" Music",))):
        handles = Handles([game], [], [], reason_max_chars=room)
        assert CopyGuard.for_candidate(handles, 0).pending(_raw(text)).choices == choices


def test_a_handle_is_never_a_word_of_the_sentence():
    """v21 ended a Steam reason "… is tagged Management and a3." (the prompt's handle, a degenerate reply)."""
    assert _next_ok("It is tagged Dark and", " a1") is False
    assert _next_ok("It is tagged Dark and a", "1") is False
    assert _next_ok("It is tagged Dark and", " a") is not False  # "a" is a word


def test_what_every_possible_value_goes_on_with_is_fed_without_asking_the_model():
    assert _guard().pending(_raw("It shares its tag Dark with STAR")).forced() == " WARS™ Republic Commando™"
    assert _guard().pending(_raw("It shares its tag Off")).forced() == "road with"
    assert _guard().pending(_raw("It is tagged")).forced() == ""  # four tags: the model chooses


def test_a_sentence_never_opens_with_a_handle():
    assert _next_ok("", "a1") is False  # "a1: comes from Starbucks", the prompt's line
    assert _next_ok("", "a") is False  # a lone handle letter a digit would follow
    assert _next_ok("h", "2:") is False
    assert _next_ok("", "It") is True
    assert _next_ok("", "A pick") is False  # the first card's plan opens "It" (below)


def test_each_card_of_an_answer_opens_with_its_own_sentence_plan():
    """v23 was taught the plan of its card's position and wrote "A pick that …" on most first cards anyway; v22
    opened 96 of 100 Steam reasons "Worth a look:". The decoder feeds the card's plan's first words, and the model
    writes the rest."""
    handles = Handles([GAME] * 6, [], [])
    openings = []
    for index in range(6):
        guard = CopyGuard.for_candidate(handles, index)
        opening = guard.pending(_raw(""))
        openings.append(opening.forced())
        assert opening.allows(_raw(opening.forced() + " is")) and not opening.allows(_raw(opening.forced() + "'s"))
        assert guard.pending(_raw(opening.forced() + " is tagged")).allows(_raw(opening.forced() + " is tagged Dark"))
    assert openings == ["It", "This one", "A pick that", "Chosen because it", "Picked for you: it",
                        "Worth a look: it"]
    # what is fed is how the training targets of that place open, with two facts or one
    assert [p.partition("{a}")[0].strip() for p in PLANS_ONE] == openings
    assert not CopyGuard.for_candidate(handles, 2).pending(_raw("")).allows(_raw("It is"))
    # a short reason has one plan, "It {a}.": nothing is fed
    short = CopyGuard.for_candidate(Handles([GAME] * 4, [], [], reason_max_chars=60), 3)
    assert short.pending(_raw("")).forced() == "" and short.pending(_raw("")).allows(_raw("It is"))


def test_a_sentence_never_opens_with_the_shoppers_message():
    """Asked "a co-op game under $20", v17 began 4 of 5 replies "A co-op game under $20, and …" (rejected as a
    request echo): from the message's second word on, the model's next choice is taken ("A pick that …"). A card's
    plan now opens a longer reason (above); a short one, which has no plan to feed, is still held to this."""
    guard = CopyGuard.for_candidate(Handles([GAME], [], [], reason_max_chars=60), 0, "a  co-op game under $20")

    def ok(text: str, more: str) -> bool | None:
        pending = guard.pending(_raw(text))
        return None if pending is None else pending.allows(_raw(text + more))

    assert ok("", "A") is True  # a plan's first word too
    assert ok("A", " co") is False and ok("a", " co-op") is False
    assert ok("A", " pick") is True
    assert ok("A pick", " that") is not False  # once it is not the message, its words are the model's
    assert ok("It is tagged", " Action") is False  # lead-ins are guarded as before


def test_a_value_ends_where_the_verifier_reads_one_end():
    assert _next_ok("It is made by LucasArts", " e") is False  # v12's "comes from Amazon eGift Card": no brand
    assert _next_ok("It is made by LucasArts", " a") is True  # may be " and"
    assert _next_ok("It is made by LucasArts a", "nd") is True
    assert _next_ok("It is made by LucasArts a", "pps") is False
    assert _next_ok("It is made by LucasArts", ".") is True
    assert _next_ok("It is made by LucasArts", ":") is False  # "… 40K: Dawn of War II" went on into the title


def test_a_sentence_may_end_on_a_whole_value_only():
    copying = _guard().pending(_raw("It is tagged Offro"))
    assert not copying.allows('{"claims":["a1"],"text":"It is tagged Offro"')  # the sentence closed mid-value
    copying = _guard().pending(_raw("It is tagged Offroad"))  # "Offroad" may yet go on: the guard waits
    assert copying.allows('{"claims":["a1"],"text":"It is tagged Offroad"')


def test_a_design_is_copied_as_the_tins_own():
    tin = Item(item_id="t1", title="Amazon.com Gift Card in a Santa Smile Tin", text="", source="gift",
               attributes=[("brand", "Amazon"), ("packaging", "tin"), ("design", "Santa Smile")])
    guard = CopyGuard.for_candidate(Handles([tin], [], []), 0)
    assert guard.pending(_raw("It features the")).rests == (" Santa Smile",)
    assert guard.pending(_raw("It features the Santa")).allows(_raw("It features the Santa Claus")) is False


def _for(item: Item, reason_max_chars: int) -> CopyGuard:
    return CopyGuard.for_candidate(Handles([item], [], [], reason_max_chars=reason_max_chars), 0)


def test_a_short_reason_ends_after_a_whole_phrase_when_no_other_fits():
    """v14 wrote "It features the Red Gift Box design and comes in a pop-upoln" into explain_terse's 60 characters
    (15 of 100 Gift Cards replies): a second phrase that cannot fit is not begun."""
    box = Item(item_id="b1", title="Amazon.com Gift Card in a Red Gift Box (Pop-Up Reveal)", text="", source="gift",
               attributes=[("design", "Red Gift Box"), ("packaging", "pop-up reveal")])
    said = "It features the Red Gift Box design"
    closing = _for(box, 60).pending(_raw(said))
    assert closing.rests == (".",)
    assert not closing.allows(_raw(said + " and")) and closing.allows(_raw(said + "."))
    assert closing.allows('{"claims":["a1"],"text":"' + said + '"')  # or the sentence closes as it is
    for room in (_for(box, 150),  # a long reason
                 _for(Item(item_id="b2", title="Amazon.com Gift Card", text="", source="gift",
                           attributes=[("design", "Red Gift Box"), ("brand", "Amazon")]), 60)):  # "… and comes from Amazon." fits
        after = room.pending(_raw(said))
        assert after is None or after.allows(_raw(said + " and"))
    # after " and", only a phrase that fits, whole: "comes from Amazon", not "comes in a pop-up reveal"
    both = Item(item_id="b3", title="Amazon.com Gift Card", text="", source="gift", attributes=[
        ("design", "Red Gift Box"), ("packaging", "pop-up reveal"), ("brand", "Amazon")])
    guard = _for(both, 60)
    assert guard.pending(_raw(said + " and")).rests == (" comes from Amazon",)  # its next word is not free
    second = guard.pending(_raw(said + " and comes"))
    assert second.rests == (" from Amazon",) and not second.allows(_raw(said + " and comes in"))
    assert second.allows(_raw(said + " and comes from"))


def test_a_short_reason_with_room_for_a_second_fact_goes_on():
    """v15 wrote "It is delivered by e-mail." for five different e-mail cards (6 % of its Gift Cards terse reasons),
    where its target goes on "and comes from Cracker Barrel": with one offered phrase said and another that fits,
    the sentence goes on with " and"; after two, or in a long reason, the model's choice stands."""
    card = Item(item_id="c1", title="Cracker Barrel Gift Cards - E-mail Delivery", text="", source="gift",
                attributes=[("delivery", "e-mail"), ("brand", "Cracker Barrel")])
    short = _for(card, 60)
    said = "It is delivered by e-mail"
    going_on = short.pending(_raw(said))
    assert going_on.rests == (" and", ", and")  # ", and" after "…, as you asked", as the sentence plans say it
    assert not going_on.allows(_raw(said + ".")) and not going_on.allows('{"claims":["a1"],"text":"' + said + '"')
    assert going_on.allows(_raw(said + " an")) and going_on.allows(_raw(said + " and"))
    # begun, it still goes on: v16 let " " through as the start of " and", then closed "…, as you asked ."
    assert short.pending(_raw(said + " ")).rests == going_on.rests
    assert not short.pending(_raw(said + " ")).allows(_raw(said + " ."))
    assert short.pending(_raw(said + " and")).rests == (" comes from Cracker Barrel",)
    assert short.pending(_raw(said + ", and")).rests == (" comes from Cracker Barrel",)
    both = said + " and comes from Cracker Barrel"
    assert short.pending(_raw(both)) is None or short.pending(_raw(both)).allows(_raw(both + "."))
    long = _for(card, 150).pending(_raw(said))
    assert long is None or long.allows(_raw(said + "."))


def test_a_short_reason_never_goes_on_with_a_value_it_has_said():
    """Asked "a gift card from Zaxby's", v25 wrote "It is from Zaxby's, as you asked," and the guard offered the brand's
    own phrase next: "… and comes from Zaxby's, as you asked." (10 of 100 asked Gift Cards terse reasons, each a
    loop the verifier rejects). A phrase stating a value the sentence has said is not offered."""
    from agent.request import Facet

    card = Item(item_id="z1", title="Zaxby's Gift Card", text="", source="gift",
                attributes=[("brand", "Zaxby's"), ("delivery", "e-mail")])
    asked = [Facet(handle="r1", key="brand", value="Zaxby's", label="from Zaxby's")]
    handles = Handles([card], [], asked, reason_max_chars=80)
    assert [handles.phrase(0, h) for h in handles.claim_handles(0)] == [  # the brand once: the card's own handle
        "comes from Zaxby's, as you asked", "is delivered by e-mail"]
    guard = CopyGuard.for_candidate(handles, 0)
    said = "It comes from Zaxby's, as you asked, and"
    assert guard.pending(_raw(said)).rests == (" is delivered by e-mail",)


def test_what_other_shoppers_chose_is_copied_with_the_count_the_data_gives():
    """"is also the choice of 4 shoppers who had your IHOP card": the count and the past item are copied whole, as
    the prompt offers them (a model that recalls a number could say 40)."""
    card = Item(item_id="w", title="Wendy's Gift Card", text="", source="t", attributes=[("brand", "Wendy's")])
    ihop = Item(item_id="i", title="IHOP Gift Card", text="", source="t", attributes=[("brand", "IHOP")])
    others = [Interaction(user_id=f"o{n}", item_id=i, rating=5.0) for n in range(4) for i in ("w", "i")]
    stats = Catalogue(Dataset(name="t", items=[card, ihop], report=LoadReport(dataset="t"), interactions=others)).stats
    guard = CopyGuard.for_candidate(Handles([card], [PastItem(ihop, 5.0)], [], stats=stats), 0)
    lead = "It is also the choice of"
    assert guard.pending(_raw(lead)).allows(_raw(lead + " 4 shoppers"))
    assert not guard.pending(_raw(lead)).allows(_raw(lead + " 40"))
    named = lead + " 4 shoppers who had your I"
    assert guard.pending(_raw(named)).allows(_raw(named + "HOP"))
    short = "It is chosen by"  # a short reason's words for it
    assert guard.pending(_raw(short)).allows(_raw(short + " 4 who"))
    assert not guard.pending(_raw(short)).allows(_raw(short + " 40"))


def test_a_maker_link_names_a_liked_item_from_that_maker():
    """"has the same developer as your …" (agent/sentences.py: where the past item's name says its maker) goes on
    with a liked item of that maker; a tag's link always says which tag."""
    sequel = Item(item_id="p3", title="LucasArts Classics", text="", source="steam",
                  attributes=[("developer", "LucasArts")])
    guard = CopyGuard.for_candidate(Handles([GAME], [PastItem(sequel, 1.0), PastItem(OTHER, 1.0)], []), 0)
    lead = "It has the same developer as"
    assert guard.pending(_raw(lead)).allows(_raw(lead + " your LucasArts")) is True
    assert guard.pending(_raw(lead)).allows(_raw(lead + " Darkest")) is False
    assert _next_ok("It has the same tag as", " Darkest") is not False  # no tag link says it so: no lead-in


def test_after_a_link_and_and_the_sentence_says_another_fact_not_the_link_again():
    """v21 went on "… with your DARK SOULS™ II (you recommended it) and shares its tag Survival Horror." (a link's
    words, no past item): after a said link and " and", "shares" is refused; any other word is free."""
    linked = "It shares its tag Dark with STAR WARS™ Republic Commando™ (you recommended it) and"
    assert _next_ok(linked, " shares") is False
    assert _next_ok(linked, " is") is True
    assert _next_ok("It has the same developer as your LucasArts Classics and", " shares") is False  # a maker link
    assert _next_ok(linked + " is tagged", " Story") is True  # the next lead-in is guarded as before
    assert _next_ok("It is tagged Dark and", " shares") is not False  # no link said: a link may follow


def test_a_sentence_opens_with_a_fact_its_reply_cites():
    """v25 cited "h7" and "a1" (is tagged FPS, as you asked) and wrote "It offers Online Co-op and shares its tag
    Heist with your PAYDAY™ The Heist (you recommended it).": 35 of 100 asked Steam default reasons said nothing the
    shopper asked for. After the opening, the first phrase is one the reply cites."""
    handles = Handles([GAME], [PastItem(LIKED, 1.0)], [])
    guard = CopyGuard.for_candidate(handles, 0)
    story = next(h for h in handles.claim_handles(0) if handles.phrase(0, h) == "is tagged Story Rich")
    raw = '{"claims":["h1","' + story + '"],"text":'

    def next_ok(text: str, more: str) -> bool:
        return guard.pending(raw + json.dumps(text, ensure_ascii=False)[:-1]).allows(
            raw + json.dumps(text + more, ensure_ascii=False)[:-1])

    assert next_ok("It", " offers") is False and next_ok("It", " costs") is False
    assert next_ok("It", " is tagged Story") is True and next_ok("It", " shares") is True
    assert next_ok("It is tagged", " Dark") is False  # a true tag, but not the one it cites
    said = "It is tagged Story Rich"  # said whole: the other steps take over (the cited link next)
    assert next_ok(said + " and", " shares") is True and next_ok(said + " and", " offers") is False


def test_two_asked_values_of_one_verb_are_said_once():
    """Asked for two tags, v25 wrote "It is tagged Physics, as you asked, and is tagged Co-op, as you asked." (13 of
    100 asked Steam terse replies, each rejected as a loop) where its targets merge them: "is tagged Physics and
    Co-op, as you asked"; the guard offers the merged phrase, and a sentence that said it has said both."""
    from agent.request import Facet

    asked = [Facet(handle="r1", key="tag", value="Story Rich", label="Story Rich"),
             Facet(handle="r2", key="tag", value="Choices Matter", label="Choices Matter")]
    handles = Handles([GAME], [], asked)
    guard = CopyGuard.for_candidate(handles, 0)
    both = [h for h in handles.claim_handles(0) if handles.phrase(0, h).endswith("as you asked")]
    raw = '{"claims":' + json.dumps(both) + ',"text":'
    said = "It is tagged Story Rich"
    pending = guard.pending(raw + json.dumps(said)[:-1])
    assert pending.rests == (" and Choices Matter, as you asked",)  # not ", as you asked" and then the other
    whole = said + " and Choices Matter, as you asked"
    assert guard.pending(raw + json.dumps(whole)[:-1]).rests == (".",)  # both cited facts said: it ends


def test_two_cited_values_of_one_verb_said_one_after_the_other_are_merged():
    """v26 cited "a1", "a2" and wrote "It is tagged Exploration and is tagged Space." (one game's text for three
    shoppers): after the first whole and " and", the rest of the merged phrase, as the targets say it."""
    for max_chars in (80, None):
        handles = Handles([GAME], [], [], **({"reason_max_chars": max_chars} if max_chars else {}))
        guard = CopyGuard.for_candidate(handles, 0)
        by_phrase = {handles.phrase(0, h): h for h in handles.claim_handles(0)}
        raw = '{"claims":' + json.dumps([by_phrase["is tagged Choices Matter"], by_phrase["is tagged Story Rich"]])
        said = "It is tagged Choices Matter and"
        pending = guard.pending(raw + ',"text":' + json.dumps(said)[:-1])
        assert pending.rests == (" Story Rich",), max_chars


def test_a_lead_ins_article_is_copied_with_its_value():
    # v27 wrote "It is tagged Grand Strategy and sits in Strategy genre, as you asked" where the phrase is "sits in
    # the Strategy genre"; "comes in" keeps its freedom ("comes in a tin", "comes in Red")
    guard = _guard()
    assert guard.pending(_raw("It is tagged Dark and sits in")).allows(_raw("It is tagged Dark and sits in Action")) \
        is False
    assert _next_ok("It is tagged Dark and sits in", " the") is True
    assert _next_ok("It is tagged Dark and sits in the", " Action") is True
    assert "comes in" not in guard.values
