"""The chain's steps as plain functions over a Turn, each with the dependencies it reads (`ChainDeps`): agent/chain.py
composes them into LCEL sub-chains. Each can be called alone (the evaluation builds a Turn and explains it; a test
can rank one)."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from functools import partial

import numpy as np
from langchain_core.language_models import BaseChatModel
from langchain_core.runnables import RunnableConfig

from agent.catalogue import Catalogue, squash
from agent.conversation import Conversation
from agent.copy_guard import CopyGuard
from agent.explain import (DoomedReply, Handles, compose_reason, fallback_claims, only_thin_facts, prompt_inputs,
                           read_reason, render_text, reply_model)
from agent.kinds import animals_asked
from agent.llm import ABANDONED, invoke_all
from agent.llm.prefetch import CANCELLED, PrefetchCancelled
from agent.occasions import occasions_in
from agent.provenance import git_commit
from agent.quotes import QuoteFinder
from agent.rank import TOPIC_SHARE, Scored, history_similarity, pick, rank, requested_kinds, topic_closeness
from agent.rank_llm import llm_preference, neutral_seed
from agent.reply_models import response_format, without_text
from agent.schemas import ActiveConstraint, Answer, Claim, PastItem, Provenance, Reason, Recommendation, Relaxation
from agent.select import product_kind, select
from agent.sentences import Sentence, fact_phrase, full_stopped, is_exclusion, opening_of, same_but_opening
from agent.settings import Settings
from agent.understand import Request, understand
from agent.verify import Evidence, TextChecker, verify_claim, verify_reason
from agent.wording import PLAN_OPENINGS
from index.collab import load_collab
from index.models import Item
from index.retrieve import Retriever
from prompts.loader import Template, prompt_hash

log = logging.getLogger("whyrec.chain")


@dataclass
class ChainDeps:
    """What the steps read besides the Turn; built once per chain."""

    llm: BaseChatModel
    retriever: Retriever | None  # None: the evaluation gives candidates and history itself
    catalogue: Catalogue
    template: Template
    settings: Settings
    checker: TextChecker
    quotes: QuoteFinder
    rank_template: Template | None = None
    backend: tuple[str, str, str | None] = ("local", "unknown", None)
    index_snapshot: str = "unknown"


def _price_contrast(item, others: list) -> str:
    """Where the item's price sits among the other picks ('the cheapest of the 5'), or '' when it can't be said."""
    prices = [o.price for o in others if o.price is not None]
    if item is None or item.price is None or not prices:
        return ""
    if item.price < min(prices):
        return f"the cheapest of the {len(prices) + 1} at ${item.price:.2f}"
    if item.price > max(prices):
        return f"the priciest of the {len(prices) + 1} at ${item.price:.2f}"
    return ""


@dataclass
class Turn:
    """What flows through the chain; each step fills its part (understand: request; retrieve: history and
    candidates; rank: their order and the prompt handles; draft: cards of verified facts; explain: the model's
    reasons; verify: the answer)."""

    message: str
    user_id: str | None
    conversation: Conversation
    request: Request | None = None
    history: list[PastItem] = field(default_factory=list)
    candidates: list[Scored] = field(default_factory=list)
    handles: Handles | None = None
    reasons: list[Reason | None] = field(default_factory=list)
    raw_replies: list[str] = field(default_factory=list)  # the model's raw JSON, one per candidate ("": not asked)
    asked: list[int] = field(default_factory=list)  # the candidates the model was asked to explain
    prompt_hash: str = ""
    notes: list[str] = field(default_factory=list)
    timings_ms: dict[str, float] = field(default_factory=dict)
    llm_usage: dict[str, float | None] = field(default_factory=dict)
    prompts: list[list] = field(default_factory=list)  # rendered explain prompts, one per asked candidate (bench)
    relaxed: list[Relaxation] = field(default_factory=list)  # constraints not fully applied, and how
    draft: Answer | None = None  # the ranked cards with reasons from verified facts only, before the LLM writes
    answer: Answer | None = None
    explain: bool = True  # input `explain: False`: no LLM call, reasons rendered from verified facts (dialogue suite)


def usage_of(replies: list) -> dict[str, float | None]:
    """Token counts of a turn's LLM calls, summed; first token = the earliest; tokens/s = output tokens after each
    call's first token over the wall time from the earliest first token to the last end (the calls run together)."""
    usage = [r.usage_metadata or {} for r in replies]
    timing = [r.response_metadata.get("timing") or {} for r in replies]
    firsts = [t["first_token_s"] for t in timing if t.get("first_token_s") is not None]
    after = [t["tokens_after_first"] for t in timing if t.get("tokens_after_first") is not None]
    chosen = [t["chosen_after_first"] for t in timing if t.get("chosen_after_first") is not None]
    window = max((t.get("total_s") or 0.0 for t in timing), default=0.0) - min(firsts, default=0.0)
    return {"calls": len(replies),
            "prompt_tokens": sum(u.get("input_tokens") or 0 for u in usage),
            "completion_tokens": sum(u.get("output_tokens") or 0 for u in usage),
            "first_token_s": min(firsts, default=None),
            "tokens_per_s": sum(after) / window if after and window > 0 else None,
            # the same without the tokens the grammar forced (jump-forward): the rate of tokens the model chose
            "chosen_tokens_per_s": sum(chosen) / window if chosen and window > 0 else None,
            # prompt-lookup speculation (local backend): guessed tokens fed, and the share the model chose
            "guessed_tokens": sum(r.response_metadata.get("guessed_tokens") or 0 for r in replies),
            "guessed_kept": sum(r.response_metadata.get("guessed_kept") or 0 for r in replies),
            # tokens the copy guard chose over the model's first choice (settings.copy_guard)
            "guarded_tokens": sum(r.response_metadata.get("guarded_tokens") or 0 for r in replies),
            # replies stopped once their sentence was doomed (settings.abandon_doomed)
            "abandoned": sum(r.response_metadata.get("finish_reason") == ABANDONED for r in replies),
            # replies decoded ahead, while the shopper read the last answer (agent/llm/prefetch.py)
            "reused": sum(bool(r.response_metadata.get("reused")) for r in replies)}


def timed(name: str, turn: Turn, start: float) -> None:
    turn.timings_ms[name] = round((time.perf_counter() - start) * 1000, 1)


def start(inputs: dict, deps: ChainDeps) -> Turn:
    message = str(inputs.get("message") or "").strip()
    user_id = inputs.get("user_id")
    conversation = inputs.get("conversation")
    if conversation is None or conversation.user_id != user_id:  # one user's chat never carries into another's
        conversation = Conversation(user_id=user_id)
    turn = Turn(message=message, user_id=user_id, conversation=conversation,
                explain=bool(inputs.get("explain", True)))
    if len(message) > deps.settings.max_message_chars:
        turn.message = message[: deps.settings.max_message_chars]
        turn.notes.append(f"Your message was long; I read its first {deps.settings.max_message_chars} characters.")
    return turn


def understand_step(turn: Turn, deps: ChainDeps) -> Turn:
    t0 = time.perf_counter()
    turn.request = understand(turn.message, deps.catalogue, turn.conversation)
    turn.notes += turn.request.notes
    if not turn.message:
        turn.notes.append("Tell me what you're looking for (an occasion, a budget, a brand, a game you like). "
                          "Meanwhile, here are picks from your history and what's popular.")
    timed("understand", turn, t0)
    return turn


def retrieve_step(turn: Turn, deps: ChainDeps) -> Turn:
    t0 = time.perf_counter()
    request = turn.request
    if turn.user_id and deps.retriever.has_user(turn.user_id):
        past = deps.retriever.history(turn.user_id)
        turn.history = [PastItem(item=h.item, rating=h.rating) for h in reversed(past)]  # newest first
    elif turn.user_id:
        turn.notes.append(f"I don't know shopper {turn.user_id!r} yet, so these picks rest on your request alone.")
    turn.history += [PastItem(item=item, mentioned=True) for i in request.mentioned_item_ids
                     if (item := deps.catalogue.get(i)) is not None]
    if request.intent == "why":
        timed("retrieve", turn, t0)
        return turn
    history_ids = [p.item.item_id for p in turn.history]
    if not request.query_text.strip():
        request.query_text = " ".join(p.item.title for p in turn.history[:3]) or deps.catalogue.name.replace("_", " ")
    # every active constraint is hard; a relaxation is stated (agent/select.py)
    excluded = sorted(set(request.exclude_ids) | set(history_ids))
    chosen = select(request, deps.retriever.candidates, deps.catalogue, excluded, deps.settings.n_candidates,
                    deps.settings.k)
    found = chosen.items
    turn.notes += chosen.notes
    turn.relaxed = chosen.relaxed
    turn.candidates = [Scored(item=c.item, score=c.similarity, signals={"request": c.similarity}) for c in found]
    timed("retrieve", turn, t0)
    return turn


def rank_step(turn: Turn, deps: ChainDeps, config: RunnableConfig | None = None) -> Turn:
    if turn.request.intent == "why" or not turn.candidates:
        return turn
    t0 = time.perf_counter()
    items = [s.item for s in turn.candidates]
    # the shopper's own words may set a topic; a query made of the history's titles (no request) sets none
    closeness = (topic_closeness({s.item.item_id: s.signals["request"] for s in turn.candidates})
                 if turn.request.search_text else None)
    past = turn.history
    vectors = deps.retriever.embeddings([i.item_id for i in items] + [p.item.item_id for p in past])
    cand_vecs = np.array([vectors[i.item_id] for i in items])
    past_with_vec = [p for p in past if p.item.item_id in vectors]
    past_vecs = np.array([vectors[p.item.item_id] for p in past_with_vec]).reshape(len(past_with_vec),
                                                                                   cand_vecs.shape[1])
    hist_sim = history_similarity(cand_vecs, past_vecs, [p.rating for p in past_with_vec])
    signals = (items, [s.signals["request"] for s in turn.candidates], hist_sim, [p.item.item_id for p in past],
               deps.catalogue, deps.settings.rank)
    collab_model = load_collab(deps.settings.home, deps.catalogue.name) if deps.settings.rank.collab else None
    collab = (collab_model.scores([p.item.item_id for p in past], [i.item_id for i in items])
              if collab_model is not None else None)
    ranked = rank(*signals, collab=collab)
    if deps.rank_template is not None:  # the LLM's own order of the best few, fused as one more signal
        settings = deps.settings
        shortlist = Handles([s.item for s in ranked[: settings.n_explain_candidates]],
                            turn.history[: settings.max_history], turn.request.facets, settings.max_attributes,
                            stats=deps.catalogue.stats)
        order = llm_preference(deps.llm, deps.rank_template, turn.request, shortlist, settings.max_new_tokens, config,
                               seed=neutral_seed(turn.user_id or "", turn.message))  # shown shuffled, see rank_llm
        if order.error:
            turn.notes.append("The model's ranking hint was unavailable; ranked on the other signals.")
        ranked = rank(*signals, llm_order=order.order or None, collab=collab)
    kinds = requested_kinds(turn.request, [p.item for p in turn.history if p.mentioned])
    product = product_kind(turn.request, deps.catalogue)  # "an electric toothbrush": toothbrushes first
    asked = f"{turn.message}\n{turn.request.query_text.splitlines()[0] if turn.request.query_text else ''}"
    # the occasion the conversation carries: "cheaper" after "a birthday gift card" still wants no Christmas card
    occasions = occasions_in(" ".join([turn.message, *turn.request.values("occasion")]))
    turn.candidates = pick(ranked, deps.settings.k, turn.message, kinds, product=product, occasions=occasions,
                           animals=animals_asked(asked), citable=partial(citable, turn=turn, deps=deps),
                           closeness=closeness)
    # no near-duplicates; occasion, kind, product and topic first; an item with nothing to cite last
    if closeness is not None and (close := sum(closeness.get(s.item.item_id, 1.0) >= TOPIC_SHARE
                                               for s in turn.candidates)) < len(turn.candidates):
        turn.notes.append(topic_note(close, len(turn.candidates)))
    with_handles(turn, deps)
    timed("rank", turn, t0)
    return turn


def topic_note(close: int, shown: int) -> str:
    """What the shopper is told when fewer than all `shown` picks are close to the request's topic."""
    if close == 0:
        return "None of these picks closely matches what you asked; they are the next best I found."
    others = shown - close
    return (f"Only {close} of these picks closely match{'es' if close == 1 else ''} what you asked; "
            f"the other{'s are' if others > 1 else ' is'} the next best I found.")


def citable(item: Item, turn: Turn, deps: ChainDeps) -> bool:
    """Whether the card could say something specific about `item` without the model: a fact the fallback sentence
    may stand on. A met exclusion is not one ("not Starbucks" is true of every pick the coffee lover gets)."""
    handles = Handles([item], turn.history[: deps.settings.max_history], turn.request.facets,
                      deps.settings.max_attributes, stats=deps.catalogue.stats)
    return handles.has_facts(0) and any(not is_exclusion(c) for c in fallback_claims(handles, 0, 4))


def with_handles(turn: Turn, deps: ChainDeps) -> Turn:
    """The prompt's handles for the turn's final candidates: what every later step cites by."""
    turn.handles = Handles([s.item for s in turn.candidates], turn.history[: deps.settings.max_history],
                           turn.request.facets, deps.settings.max_attributes, stats=deps.catalogue.stats,
                           reason_max_chars=deps.template.generation.reason_max_chars)
    return turn


def explain_calls(turn: Turn, deps: ChainDeps) -> list[tuple[list, dict]]:
    """The turn's LLM calls: one prompt and one schema per candidate, so each reply can cite only its own
    candidate's handles. A candidate with nothing to cite gets no call: no reply about it could be verified, so
    its card says so from the data (explain.NOTHING_SPECIFIC) and the decode batch is a row shorter."""
    if turn.handles is None or not turn.explain:
        return []
    handles = turn.handles
    turn.asked = [i for i in range(len(handles.candidates)) if handles.has_facts(i)]
    turn.prompts = [deps.template.render(**prompt_inputs(turn.request, handles, i)) for i in turn.asked]
    turn.prompt_hash = prompt_hash([m for prompt in turn.prompts for m in prompt])
    max_tokens = deps.template.generation.max_new_tokens or deps.settings.max_new_tokens
    calls = []
    for i, prompt in zip(turn.asked, turn.prompts):
        options = {"response_format": response_format(reply_model(handles, deps.template, i)), "max_tokens": max_tokens}
        if deps.settings.abandon_doomed:
            options["abandon_if"] = DoomedReply.for_candidate(handles, i, turn.message)
        if deps.settings.copy_guard:
            options["copy_guard"] = CopyGuard.for_candidate(handles, i, turn.message)
        calls.append((prompt, options))
    return calls


def take_replies(turn: Turn, replies: list, deps: ChainDeps) -> None:
    """The replies of `turn.asked`, in order, as one reason (or None) per candidate."""
    n = len(turn.handles.candidates) if turn.handles else 0
    turn.reasons, turn.raw_replies, failures, unusable = [None] * n, [""] * n, set(), False
    for i, reply in zip(turn.asked, replies):
        if isinstance(reply, Exception):  # a dead/slow server must not cost the shopper the answer
            if type(reply).__name__ not in failures:  # the operator gets the error (its traceback at DEBUG), the
                log.warning("explain call failed: %r", reply)  # shopper a note; a dead server is no traceback
                log.debug("explain call failed", exc_info=reply)
            failures.add(type(reply).__name__)
            continue
        if reply.response_metadata.get("finish_reason") == CANCELLED:  # a prefetch a real turn stopped
            raise PrefetchCancelled
        turn.raw_replies[i] = raw = str(reply.content)
        if reply.response_metadata.get("finish_reason") == ABANDONED:  # its claims count, its sentence could not
            raw = without_text(raw) or raw
        turn.reasons[i], errors = read_reason(raw, turn.handles, deps.template, i)
        unusable |= bool(errors)
    turn.llm_usage = usage_of([r for r in replies if not isinstance(r, Exception)])
    if failures:
        turn.notes.append(f"The language model is unavailable ({', '.join(sorted(failures))}); "
                          "reasons below are built from verified facts only.")
    if unusable:
        turn.notes.append("The model's reply was partly unusable; affected reasons come from verified facts.")


def explain_turns(turns: list[Turn], config: list[RunnableConfig], deps: ChainDeps) -> list[Turn]:
    """Every turn's calls go out together: one decode batch on the local model, concurrent requests to a
    server. `timings_ms["explain"]` is the wall time of that shared batch."""
    t0 = time.perf_counter()
    per_turn = [explain_calls(turn, deps) for turn in turns]
    configs = [c for calls, c in zip(per_turn, config) for _ in calls]
    replies = invoke_all(deps.llm, [call for calls in per_turn for call in calls], configs)
    for turn, calls in zip(turns, per_turn):
        if calls:
            take_replies(turn, replies[: len(calls)], deps)
            replies = replies[len(calls):]
            timed("explain", turn, t0)
    return turns


def draft_step(turn: Turn, deps: ChainDeps) -> Turn:
    """The ranked cards with reasons rendered from verified facts, before the LLM writes: the chat shows them at
    once. A card whose LLM reason later fails verification is rendered the same way. Review quotes come with the
    verified answer: picking one encodes review sentences, which would delay the first cards by up to a second."""
    if turn.request.intent == "why" or not turn.candidates:
        return turn
    t0 = time.perf_counter()
    turn.draft = answer_of(turn, [None] * len(turn.candidates), deps, with_quotes=False)
    timed("draft", turn, t0)
    return turn


def verify_step(turn: Turn, deps: ChainDeps) -> Turn:
    t0 = time.perf_counter()
    if turn.request.intent == "why":
        turn.answer = why_answer(turn, deps)
        return turn
    turn.answer = answer_of(turn, turn.reasons, deps)
    timed("verify", turn, t0)
    turn.answer.timings_ms = turn.timings_ms
    return turn


def answer_of(turn: Turn, reasons: list[Reason | None], deps: ChainDeps, with_quotes: bool = True) -> Answer:
    """One card per candidate. The model's sentence is shown only when every claim behind it held and it states
    nothing else; otherwise the reason is rendered from verified facts."""
    recs = []
    handles = turn.handles
    history = {p.item.item_id: p.item for p in turn.history}
    past_by_id = {p.item.item_id: p for p in turn.history}
    ratings = {p.item.item_id: p.rating for p in turn.history}
    shown: list[str] = []  # the reasons already on this answer's cards: none is repeated
    for i, scored in enumerate(turn.candidates):
        others = [s.item.title for s in turn.candidates if s is not scored]
        evidence = Evidence(item=scored.item, history=history, facets=turn.request.facets, message=turn.message,
                            other_titles=others, ratings=ratings, stats=deps.catalogue.stats)
        reason = reasons[i] if i < len(reasons) else None
        offered = handles.offered(i) if handles else ()
        supported, unsupported, problems = (verify_reason(reason, evidence, deps.checker, offered) if reason
                                            else ([], [], []))
        # a text that says what a card already shown says, but for its opening, is rendered instead, from other
        # facts where there are any: v24 wrote "It is tagged Horror, as you asked, and also VR." and "Picked for
        # you: it is tagged Horror, as you asked, and also VR." on two cards of one answer (`whyrec ask`, Steam)
        # nor does a pick shown again in this chat repeat what it said then, in its words or in others (the base
        # model's IHOP card: "A pick that comes from IHOP, is also the choice of …", then "Chosen because it comes
        # from IHOP, and is also the choice of …"): it is rendered from telling facts not said yet, where it has
        # any (a price alone, "Chosen because it costs $30.00.", tells less than the facts said before)
        seen = shown + turn.conversation.reasons_shown(scored.item.item_id)
        told = turn.conversation.facts_shown(scored.item.item_id)
        fresh = [c for c in (verify_claim(c, evidence) for c in fallback_claims(handles, i, 4 + len(told)))
                 if c.verdict == "supported" and c.fact not in told] if told and handles else []
        fresh = [] if only_thin_facts(fresh, scored.item.title) else fresh
        text_ok = bool(reason and reason.text and supported and not unsupported and not problems
                       and not any(same_but_opening(reason.text, t) for t in seen)
                       and not (fresh and {c.fact for c in supported} <= told))
        # nor a text whose every fact is thin or in the title ("It comes from Applebee's." of the Applebee's card,
        # "It is made by INT2000.": the base model's), where the rendered sentence says a telling fact instead
        thin = text_ok and handles is not None and only_thin_facts(supported, scored.item.title)
        model_said = list(supported)
        if text_ok and not thin:
            text = full_stopped(reason.text)
        else:  # rendered from verified facts: the model's and the item's most specific, what the shopper asked
            chosen = [verify_claim(c, evidence) for c in fallback_claims(handles, i, 4)]
            supported += [c for c in chosen if c.verdict == "supported"]
            # each fact once (a reply may cite one handle several times); the sentence takes the most specific
            unique = list({c.fact: c for c in supported}.values())
            # in its own card's plan, as the model's reply is fed it (agent/copy_guard.py plan_opening); moved off
            # it, onto one no other card opens with: seeded by the item, a rendered card opened as the next did
            taken = frozenset(PLAN_OPENINGS[j % len(PLAN_OPENINGS)] for j in range(len(turn.candidates)) if j != i)

            def render(claims: list[Claim]) -> Sentence:
                return compose_reason(claims, past_by_id, turn.request.facets, stats=deps.catalogue.stats,
                                     seed=scored.item.item_id, avoid=seen, title=scored.item.title,
                                     message=turn.message, max_chars=deps.template.generation.reason_max_chars,
                                     first_plan=i, taken=taken | {opening_of(t) for t in shown},
                                     later_card=i > 0)  # one card leads with "…, as you asked", not every card

            sentence = render(fresh) if fresh else None
            if sentence is None or not sentence.claims:
                sentence = render(unique)
            text, supported = sentence.text, sentence.claims  # the card shows exactly what its sentence says
            if thin and only_thin_facts(supported, scored.item.title):  # no more telling: the model's words stand
                text, supported = full_stopped(reason.text), model_said
            else:
                text_ok = False
        shown.append(text)
        recs.append(Recommendation(
            item_id=scored.item.item_id, title=scored.item.title, rank=i + 1, score=round(scored.score, 4),
            price=scored.item.price, attributes=handles.attributes[i] if handles else [],
            reasons=[Reason(text=text, claims=supported, unverified=unsupported, fallback=not text_ok)],
            quote=deps.quotes.quote(scored.item, turn.message, turn.user_id) if with_quotes else None,
        ))
    return Answer(user_id=turn.user_id, message=turn.message, recommendations=recs, notes=list(turn.notes),
                  provenance=provenance(turn, deps), timings_ms=dict(turn.timings_ms), llm_usage=turn.llm_usage,
                  **state_of(turn))


def state_of(turn: Turn) -> dict:
    """The conversation state an answer carries: active constraints (chips), relaxations (of the picks shown; the
    candidates held more), conversation id."""
    shown = {s.item.item_id for s in turn.candidates}
    return {"constraints": [ActiveConstraint(key=f.key, value=f.value, label=f.label)
                            for f in turn.request.facets],
            "relaxed": [r.model_copy(update={"item_ids": [i for i in r.item_ids if i in shown]})
                        for r in turn.relaxed],
            "conversation_id": turn.conversation.conversation_id}


def _said_as(claim: Claim) -> tuple:
    """What a why account says of a claim: a past item and the value it shares, or a value (whatever its key)."""
    if claim.kind == "history":
        return claim.history_item_id, claim.attribute, claim.value
    return (squash(claim.value or ""),)


def why_answer(turn: Turn, deps: ChainDeps) -> Answer:
    """'Why the second one?': that one suggestion, its verified evidence once (the reason shown before plus the
    other facts behind it), then what sets it apart from the other picks of that answer."""
    previous = turn.conversation.last_recommendation()
    shown = previous.answer.recommendations if previous else []
    chosen = [r for r in shown if r.rank == turn.request.why_rank]
    notes = list(turn.notes)
    if not chosen:
        notes.append(f"There is no suggestion number {turn.request.why_rank} in my last answer.")
    past_by_id = {p.item.item_id: p for p in turn.history}
    detailed = []
    for rec in chosen:
        item = deps.catalogue.get(rec.item_id)
        handles = Handles([item], turn.history, turn.request.facets, deps.settings.max_attributes,
                          stats=deps.catalogue.stats)
        evidence = Evidence(item=item, history={k: p.item for k, p in past_by_id.items()},
                            facets=turn.request.facets, message=turn.message,
                            ratings={k: p.rating for k, p in past_by_id.items()}, stats=deps.catalogue.stats)
        before = [c for reason in rec.reasons for c in reason.claims]
        claims: list = []
        sayable = partial(fact_phrase, history=past_by_id, facets=turn.request.facets, stats=deps.catalogue.stats)
        # "why this one?": the budget and exclusions it meets come first, though every pick meets them
        for c in before + [verify_claim(c, evidence) for c in fallback_claims(handles, 0, 8, every_request=True)]:
            # one fact once: "tag Agriculture, as you asked" and the item's own tag Agriculture are one, and so are
            # one value under two keys ("tagged Co-op" and "offers Co-op"); the answer lists only what its text says
            if c.verdict == "supported" and sayable(c) and _said_as(c) not in {_said_as(d) for d in claims}:
                claims.append(c)
        others = [o for r in shown if r.rank != rec.rank and (o := deps.catalogue.get(r.item_id)) is not None]
        apart = [verify_claim(Claim(kind="attribute", attribute=k, value=v), evidence)
                 for k, v in handles.attributes[0]
                 if k != "price" and not any((k, v) in o.attributes for o in others)]
        apart = [c for c in apart if c.verdict == "supported" and sayable(c)]
        claims = claims[:8]
        cited = {_said_as(c) for c in claims}  # asked for, or its own
        # a distinctive fact already in the evidence is named as a contrast, not repeated as a claim
        unique_cited = [f"the only one with {c.attribute.replace('_', ' ')} {c.value.rstrip('.')}" for c in apart
                        if _said_as(c) in cited][:2]
        apart = [c for c in apart if _said_as(c) not in cited][:3]
        rec = rec.model_copy(deep=True)
        rec.reasons = [Reason(text=render_text(claims, past_by_id, turn.request.facets, deps.catalogue.stats),
                              claims=claims, fallback=True)]
        parts = [_price_contrast(item, others), *unique_cited, *(f"the only one that {sayable(c)}" for c in apart)]
        if any(parts):
            them = "the other pick" if len(others) == 1 else f"the other {len(others)} picks"
            rec.reasons.append(Reason(text=f"Unlike {them}: {'; '.join(filter(None, parts))}.", claims=apart,
                                      fallback=True))
        detailed.append(rec)
    return Answer(user_id=turn.user_id, message=turn.message, recommendations=detailed, notes=notes,
                  provenance=provenance(turn, deps), timings_ms=turn.timings_ms, **state_of(turn))


def provenance(turn: Turn, deps: ChainDeps) -> Provenance:
    name, model, adapter = deps.backend
    return Provenance(template_id=deps.template.id, template_version=deps.template.version,
                      prompt_hash=turn.prompt_hash, backend=name, model=model, adapter=adapter,
                      dataset=deps.catalogue.name, index_snapshot=deps.index_snapshot, git_commit=git_commit())


def given_turn(message: str, user_id: str | None, candidate_ids: list[str], history: list[PastItem],
               deps: ChainDeps) -> Turn:
    """A Turn whose candidates and history the caller chose (the evaluation's held-out pair): the request is read as
    any turn's, retrieval and ranking are the caller's; ready for the explain sub-chain."""
    turn = understand_step(start({"message": message, "user_id": user_id}, deps), deps)
    turn.history = list(history)
    turn.candidates = [Scored(item=item, score=0.0) for i in candidate_ids
                       if (item := deps.catalogue.get(i)) is not None]
    return with_handles(turn, deps)
