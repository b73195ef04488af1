"""HTML for the chat's answer cards: each recommended item with its key attributes, price and reasons, the cited
facts highlighted, history citations in the shopper's words ("you rated 5★: …") and a visible mark on anything the
verifier could not confirm.

Pure functions over an `Answer`, so they are tested without a model. Every piece of catalogue or shopper text is
untrusted and goes through `html.escape`; the HTML is one line because the chatbot runs Markdown over messages
and a blank line or an indented line would end an HTML block."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field

from agent.schemas import TOGETHER, Answer, Claim, Quote, Reason, Recommendation
from index.attributes import CHIPS

MAX_CHIPS = 6
MAX_CHIP_CHARS = 60


@dataclass(frozen=True)
class CitedPastItem:
    """A past item as the card names it: one the shopper rated, or one they only named in this chat."""

    title: str
    rating: float | None = None
    mentioned: bool = False


@dataclass
class CardContext:
    """What the cards need besides the Answer: the shopper's past items (for "you rated 5★: <title>") and the
    labels of the request facets as the shopper said them ("cheaper than $25")."""

    past: dict[str, CitedPastItem] = field(default_factory=dict)
    facet_labels: dict[tuple[str, str], str] = field(default_factory=dict)
    binary_ratings: bool = False  # Steam: 1.0 is "recommended", 0.0 "not" (Catalogue.stats.binary_ratings), not stars


def esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def money(value: float | None) -> str:
    return f"${value:,.2f}" if value is not None else "price not listed"


def stars(rating: float | None) -> str:
    return f"{rating:g}★" if rating is not None else ""


def rating_words(rating: float, ctx: CardContext) -> str:
    """The shopper's own rating as the card says it: "you rated 5★", or on Steam "you recommended it"."""
    if ctx.binary_ratings:
        return "you recommended it" if rating >= 1.0 else "you did not recommend it"
    return f"you rated {stars(rating)}"


def pretty_key(key: str | None) -> str:
    return (key or "").replace("_", " ")


def request_label(claim: Claim, ctx: CardContext) -> str:
    """How the shopper put the request facet this claim satisfies."""
    key, value = claim.attribute or "", claim.value or ""
    if (key, value) in ctx.facet_labels:
        return ctx.facet_labels[(key, value)]
    return {
        "price_max": f"under ${value}",
        "price_min": f"over ${value}",
        "brand": f"from {value}",
        "exclude_brand": f"not {value}",
        "like_item": f"like {value}",
    }.get(key, f"{pretty_key(key)} {value}".strip())


def highlight(text: str, values: list[str]) -> str:
    """Escape `text` and wrap each occurrence of a cited value in <mark>, matching on the raw text so that
    escaping cannot split or invent a match."""
    wanted = sorted({v for v in values if v and len(v) >= 2}, key=len, reverse=True)
    if not wanted:
        return esc(text)
    pattern = re.compile("|".join(re.escape(v) for v in wanted), re.I)
    out, last = [], 0
    for m in pattern.finditer(text):
        out.append(esc(text[last : m.start()]))
        out.append(f'<mark class="wr-cite">{esc(m.group(0))}</mark>')
        last = m.end()
    out.append(esc(text[last:]))
    return "".join(out)


def claim_html(claim: Claim, ctx: CardContext) -> str:
    """One verified claim as an evidence line. (Gradio's sanitizer strips data-* attributes, so what a tool or
    test reads back is this visible text: "brand: Amazon".)"""
    if claim.kind == "history":
        past = ctx.past.get(claim.history_item_id or "")
        title = past.title if past else (claim.history_item_id or "an earlier item")
        if past and past.mentioned:
            how = "you mentioned"
        else:
            how = rating_words(past.rating, ctx) if past and past.rating is not None else "from your history"
        if claim.attribute == TOGETHER:
            shared = f' <span class="wr-shared">{esc(claim.value)} other shoppers had both</span>'
        elif claim.attribute and claim.value:
            shared = (f' <span class="wr-shared">both: {esc(pretty_key(claim.attribute))} '
                      f'<mark class="wr-cite">{esc(claim.value)}</mark></span>')
        else:
            shared = ""
        body = f'{esc(how)}: <span class="wr-past">{esc(clip(title, 90))}</span>{shared}'
        return f'<li class="wr-claim wr-history"><span class="wr-icon">↺</span><span>{body}</span></li>'
    if claim.kind == "request":
        return (f'<li class="wr-claim wr-request"><span class="wr-icon">✓</span>'
                f'<span>{esc(request_label(claim, ctx))}, as you asked</span></li>')
    return (f'<li class="wr-claim wr-attribute"><span class="wr-icon">✓</span>'
            f'<span>{esc(pretty_key(claim.attribute))}: '
            f'<mark class="wr-cite">{esc(clip(claim.value or "", 120))}</mark></span></li>')


def unverified_html(claim: Claim) -> str:
    what = (f"{pretty_key(claim.attribute)} = {claim.value}" if claim.attribute
            else f"past item {claim.history_item_id}" if claim.history_item_id else claim.kind)
    why = f" — {claim.why}" if claim.why else ""
    return (f'<li class="wr-claim wr-unverified"><span class="wr-icon">⚠</span>'
            f'<span>not verified: <s>{esc(clip(what, 120))}</s>{esc(why)}</span></li>')


def reason_html(reason: Reason, ctx: CardContext) -> str:
    cited = [c.value or "" for c in reason.claims if c.kind in ("attribute", "history") and c.attribute != TOGETHER]
    cited += [ctx.past[c.history_item_id].title for c in reason.claims
              if c.kind == "history" and c.history_item_id in ctx.past]
    marker = ('<span class="wr-badge wr-fallback" title="The model\'s own sentence did not check out, so this one '
              'was written from the verified facts below.">written from verified facts</span>'
              if reason.fallback else "")
    evidence = "".join(claim_html(c, ctx) for c in reason.claims)
    evidence += "".join(unverified_html(c) for c in reason.unverified)
    return (f'<div class="wr-reason"><p class="wr-why">{highlight(reason.text, cited)} {marker}</p>'
            f'<ul class="wr-evidence">{evidence}</ul></div>')


def quote_html(quote: Quote | None) -> str:
    """A review sentence, labelled as a quote and attributed: evidence in a shopper's voice, not a verified fact.
    Its text is untrusted and escaped like everything else."""
    if quote is None:
        return ""
    return (f'<blockquote class="wr-quote" title="A quote from a real review of this item, not a verified fact">'
            f'<span class="wr-quote-label">From a review:</span> “{esc(clip(quote.text, 200))}”'
            f' <cite>— {esc(quote.attribution)}</cite></blockquote>')


def chips(rec: Recommendation) -> list[tuple[str, str]]:
    """(key, values) for the card's chips: one chip per key, its values joined ("gift amount 25 · 50 · 100")."""
    grouped: dict[str, list[str]] = {}
    for key, value in rec.attributes:
        if key not in ("price", "feature"):
            grouped.setdefault(key, []).append(clip(value, MAX_CHIP_CHARS))
    order = sorted(grouped, key=lambda k: CHIPS.index(k) if k in CHIPS else len(CHIPS))
    return [(key, " · ".join(grouped[key][:4])) for key in order[:MAX_CHIPS]]


def card_html(rec: Recommendation, ctx: CardContext) -> str:
    chip_html = "".join(f'<span class="wr-chip"><b>{esc(pretty_key(k))}</b> '
                        f'{esc(v)}</span>' for k, v in chips(rec))
    unverified = sum(len(r.unverified) for r in rec.reasons)
    flag = (f'<span class="wr-badge wr-warn">{unverified} claim{"s" if unverified != 1 else ""} not verified</span>'
            if unverified else "")
    return (f'<div class="wr-card">'
            f'<div class="wr-head"><span class="wr-rank">{rec.rank}</span>'
            f'<span class="wr-title">{esc(rec.title or rec.item_id)}</span>'
            f'<span class="wr-price">{esc(money(rec.price))}</span></div>'
            f'<div class="wr-chips">{chip_html}{flag}</div>'
            f'{"".join(reason_html(r, ctx) for r in rec.reasons)}'
            f'{quote_html(rec.quote)}'
            f'<div class="wr-id">item {esc(rec.item_id)} · score {rec.score:.3f}</div></div>')


def notes_html(notes: list[str]) -> str:
    if not notes:
        return ""
    return '<div class="wr-notes">' + "".join(f'<p class="wr-note">ℹ {esc(n)}</p>' for n in notes) + "</div>"


def answer_html(answer: Answer, ctx: CardContext | None = None) -> str:
    """The whole answer: its notes, then one card per recommendation."""
    ctx = ctx or CardContext()
    cards = "".join(card_html(r, ctx) for r in answer.recommendations)
    nothing = not answer.recommendations and not answer.notes
    empty = '<p class="wr-empty">No items to show for that.</p>' if nothing else ""
    return f'<div class="wr-answer">{notes_html(answer.notes)}<div class="wr-cards">{cards}</div>{empty}</div>'


def message_html(text: str, kind: str = "info") -> str:
    """A plain notice in the chat (empty message, errors): escaped, styled, never a traceback."""
    return f'<div class="wr-notice wr-{esc(kind)}">{esc(text)}</div>'


CSS = """
.wr-answer { display: flex; flex-direction: column; gap: 10px; }
.wr-cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(290px, 1fr)); gap: 12px; }
.wr-card { border: 1px solid var(--border-color-primary); border-radius: 14px; padding: 14px 16px;
  background: var(--background-fill-primary); box-shadow: 0 1px 3px rgba(15, 23, 42, .06);
  display: flex; flex-direction: column; gap: 8px; }
.wr-head { display: flex; align-items: flex-start; gap: 10px; }
.wr-rank { flex: none; width: 26px; height: 26px; border-radius: 50%; background: var(--color-accent);
  color: white; font-weight: 700; display: flex; align-items: center; justify-content: center; font-size: .85em; }
.wr-title { flex: 1; font-weight: 650; line-height: 1.3; }
.wr-price { flex: none; font-weight: 700; color: #047857; background: #ecfdf5; border-radius: 8px;
  padding: 2px 8px; white-space: nowrap; }
.wr-chips { display: flex; flex-wrap: wrap; gap: 5px; }
.wr-chip { font-size: .8em; border-radius: 999px; padding: 2px 9px; background: var(--background-fill-secondary);
  border: 1px solid var(--border-color-primary); }
.wr-chip b { font-weight: 600; opacity: .65; margin-right: 2px; }
.wr-why { margin: 0; line-height: 1.45; }
.wr-cite { background: #fef3c7; color: #78350f; border-radius: 4px; padding: 0 3px;
  box-shadow: inset 0 -2px 0 #f59e0b; }
.wr-evidence { list-style: none; margin: 4px 0 0; padding: 0; display: flex; flex-direction: column; gap: 3px;
  font-size: .86em; }
.wr-claim { display: flex; gap: 6px; align-items: baseline; }
.wr-icon { flex: none; width: 1.1em; text-align: center; font-weight: 700; }
.wr-attribute .wr-icon, .wr-request .wr-icon { color: #059669; }
.wr-history .wr-icon { color: #2563eb; }
.wr-past { font-style: italic; }
.wr-shared { opacity: .8; }
.wr-unverified { color: #b45309; }
.wr-unverified .wr-icon { color: #d97706; }
.wr-badge { font-size: .72em; border-radius: 999px; padding: 1px 8px; white-space: nowrap; vertical-align: middle; }
.wr-fallback { background: #e0e7ff; color: #3730a3; }
.wr-warn { background: #ffedd5; color: #9a3412; }
.wr-quote { margin: 0; padding: 4px 10px; border-left: 3px solid #cbd5e1; font-style: italic; font-size: .88em;
  opacity: .9; }
.wr-quote-label { font-style: normal; font-weight: 600; opacity: .7; margin-right: 3px; }
.wr-quote cite { font-style: normal; opacity: .7; white-space: nowrap; }
.wr-id { font-size: .72em; opacity: .5; margin-top: auto; }
.wr-notes { display: flex; flex-direction: column; gap: 4px; }
.wr-note { margin: 0; padding: 6px 10px; border-radius: 8px; background: #eff6ff; color: #1e3a8a; font-size: .9em; }
.wr-notice { padding: 8px 12px; border-radius: 10px; }
.wr-draft { display: flex; flex-direction: column; gap: 10px; }
.wr-info { background: #eff6ff; color: #1e3a8a; }
.wr-error { background: #fef2f2; color: #991b1b; }
.wr-empty { opacity: .7; }
.wr-history-panel ul { margin: 4px 0 0; padding-left: 0; list-style: none; font-size: .88em; }
.wr-history-panel li { padding: 3px 0; border-bottom: 1px dashed var(--border-color-primary); }
.wr-history-panel .wr-stars { color: #d97706; font-weight: 600; margin-right: 4px; }
"""
