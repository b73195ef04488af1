"""The Gradio shopping chat: a thin adapter over `Whyrec`.

One `Whyrec` per indexed dataset (all sharing one loaded model) serves every browser session; what belongs to a
session — which catalogue, who the shopper is, their `Conversation` — lives in `gr.State`, so sessions never see
each other's chat. Choosing another shopper or another catalogue starts a fresh conversation; a catalogue that is
not indexed is listed with the command that indexes it (`Catalogues`). Handlers catch every error, log it with its
traceback (stderr and <home>/logs/ui.log) and show the shopper a plain sentence instead.

Endpoints (gradio_client): `/choose_dataset(name)` (optional), `/choose_shopper(user_id)` then `/respond(message,
chat)` are the chat, with the client's session holding the conversation; `/recommend(user_id, message,
conversation_id="") -> dict` is one non-streaming turn returning `Answer.model_dump()`, whose `conversation_id`
continues that conversation when passed back.

No message is dropped: Gradio ignores a trigger while the same event is pending (`trigger_mode="once"`), so the
page's send path is two events: `enqueue` (no queue, instant) clears the box and shows the message, marked
"queued" while a turn runs; `run_next` (the model queue, `trigger_mode="multiple"`) answers the oldest queued
message. The chat history lives in the Session (server side), so a queued turn never overwrites an answer with a
stale copy of the chat.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agent.conversation import Conversation
from agent.schemas import Answer
from agent.service import Draft, Progress, Token
from agent.ui_cards import CSS, CardContext, CitedPastItem, answer_html, esc, message_html, stars

if TYPE_CHECKING:
    import gradio as gr

    from agent.service import Whyrec

log = logging.getLogger("whyrec.ui")

NEW_SHOPPER = "New shopper"
MODEL_QUEUE = "model"  # every event that runs the chain shares this queue: one model, one set of cores
SHOWN_MESSAGE_CHARS = 400  # a pasted essay is echoed clipped; the chain reads up to settings.max_message_chars
FIRST_REQUEST = {  # a request that makes sense for each shipped catalogue; refinements work for any of them
    "amazon2018_gift_cards": "a birthday gift card under $50",
    "steam": "a co-op strategy game under $20",
    "amazon2023_health_personal_care_meta": "an unscented moisturiser under $15",
}
REFINEMENTS = {  # refinements that make sense for each catalogue
    "amazon2018_gift_cards": ["not Amazon please", "cheaper", "why the second one?"],
    "steam": ["not early access", "cheaper", "why the second one?"],
    "amazon2023_health_personal_care_meta": ["another brand", "cheaper", "why the second one?"],
}
DEFAULT_REFINEMENTS = ["cheaper", "why the second one?"]
QUEUED = "queued — runs after the current answer"
AGAIN = "again"  # what a chip removal sends the chain: a refinement that changes nothing else
EMPTY_MESSAGE = ("Tell me what you're looking for — an occasion, a budget, a brand — "
                 "and I'll pick items and show why.")
DRAFTING = "Here are my picks; every fact on them is checked. The model is now writing its own reasons…"
FAILED = ("Sorry, something went wrong on my side ({kind}). Nothing was lost: the page still works, and you can "
          "try again or rephrase.")


@dataclass
class Session:
    """Per-browser state: who the shopper is, their past items (for citations) and their conversation."""

    user_id: str | None = None
    dataset: str | None = None  # None: the page's default catalogue
    known: bool = False
    past: dict[str, CitedPastItem] = field(default_factory=dict)
    conversation: Conversation = field(default_factory=Conversation)
    chat: list = field(default_factory=list)  # the page's chat history, kept here so queued turns never go stale
    pending: list[tuple[str, int]] = field(default_factory=list)  # (message for the chain, its bubble's index)
    busy: bool = False


class Catalogues:
    """The datasets the page can switch between: one Whyrec each, built on first use and sharing the first one's
    model (loaded once). `unavailable` maps a dataset that is not indexed to the sentence that says how to index it."""

    def __init__(self, default: Whyrec, names: list[str] | None = None, unavailable: dict[str, str] | None = None):
        self.default = default.settings.dataset
        self._built: dict[str, Whyrec] = {self.default: default}
        self._lock = threading.Lock()
        self.available = list(dict.fromkeys([self.default, *(names or [])]))
        self.unavailable = {k: v for k, v in (unavailable or {}).items() if k not in self.available}

    @classmethod
    def discover(cls, default: Whyrec, names: tuple[str, ...] = ()) -> Catalogues:
        """The shipped datasets (FIRST_REQUEST) split into indexed and not, by asking the index, never raising."""
        from index.retrieve import Retriever

        available, unavailable = [], {}
        for name in names or tuple(FIRST_REQUEST):
            if name == default.settings.dataset:
                continue
            try:  # the index and the catalogue data stored beside it, both current
                Retriever(name, default.settings.model_copy(update={"dataset": name})).catalogue_data()
                available.append(name)
            except Exception as e:  # IndexNotBuilt, or a Chroma that cannot be read: not offered, said why
                log.info("dataset %s not offered: %s", name, e)
                unavailable[name] = f"not indexed yet: run `whyrec index --dataset {name}`"
        return cls(default, available, unavailable)

    def get(self, name: str | None) -> Whyrec:
        """The Whyrec for `name` (the default for None); KeyError for a dataset the page does not offer."""
        name = name or self.default
        if name not in self.available:
            raise KeyError(name)
        with self._lock:
            if name not in self._built:
                from agent.service import Whyrec as Built

                first = self._built[self.default]
                self._built[name] = Built(first.settings.model_copy(update={"dataset": name}), llm=first.llm)
            return self._built[name]

    def status_html(self) -> str:
        if not self.unavailable:
            return ""
        rows = "".join(f"<li><b>{esc(name)}</b>: {esc(why)}</li>" for name, why in self.unavailable.items())
        return f'<div class="wr-unavailable">Not available here:<ul>{rows}</ul></div>'


def examples_for(dataset: str) -> list[str]:
    """A first request and refinements that make sense for this catalogue (no "another brand" on Steam)."""
    return [FIRST_REQUEST.get(dataset, "something under $30")] + REFINEMENTS.get(dataset, DEFAULT_REFINEMENTS)


def shopper_id(choice: str | None) -> str | None:
    choice = (choice or "").strip()
    return None if not choice or choice == NEW_SHOPPER else choice


def start_session(whyrec: Whyrec, choice: str | None, dataset: str | None = None) -> Session:
    """A fresh session for the chosen shopper, with their rated items when the dataset knows them."""
    user_id = shopper_id(choice)
    session = Session(user_id=user_id, dataset=dataset, conversation=Conversation(user_id=user_id))
    if user_id and whyrec.retriever.has_user(user_id):
        session.known = True
        session.past = {h.item.item_id: CitedPastItem(title=h.item.title, rating=h.rating)
                        for h in whyrec.retriever.history(user_id)}
    return session


def history_panel(session: Session, limit: int = 8, binary_ratings: bool = False) -> str:
    """The shopper's past items beside the chat; Steam's ratings are recommended or not, never stars."""
    if session.user_id is None:
        return '<div class="wr-history-panel"><b>New shopper</b>: picks rest on your request and what is popular.</div>'
    if not session.known:
        return (f'<div class="wr-history-panel"><b>{esc(session.user_id)}</b> is not in this dataset; '
                "you'll be treated as a new shopper.</div>")
    latest_first = list(session.past.values())[::-1]  # the retriever returns oldest first
    def mark(rating: float | None) -> str:
        if binary_ratings and rating is not None:
            return "recommended: " if rating >= 1.0 else "not recommended: "
        return stars(rating)

    rows = "".join(f'<li><span class="wr-stars">{esc(mark(p.rating))}</span>{esc(p.title)}</li>'
                   for p in latest_first[:limit])
    more = f"<li>… and {len(session.past) - limit} more</li>" if len(session.past) > limit else ""
    return (f'<div class="wr-history-panel"><b>{esc(session.user_id)}</b> has rated {len(session.past)} '
            f"item{'s' if len(session.past) != 1 else ''}, latest first:<ul>{rows}{more}</ul></div>")


def card_context(whyrec: Whyrec, session: Session, facets: list | None = None) -> CardContext:
    """Past items and the facet labels ("cheaper than $25") of the turn just answered, or of `facets`."""
    past = dict(session.past)
    last = session.conversation.last()
    facets = facets if facets is not None else last.request.facets if last else []
    for item_id in getattr(last.request, "mentioned_item_ids", []) if last else []:
        if item_id not in past and (item := whyrec.catalogue.get(item_id)) is not None:
            past[item_id] = CitedPastItem(title=item.title, mentioned=True)
    return CardContext(past=past, facet_labels={(f.key, f.value): f.label for f in facets},
                       binary_ratings=whyrec.catalogue.stats.binary_ratings)


def shown_message(message: str) -> str:
    if len(message) <= SHOWN_MESSAGE_CHARS:
        return esc(message)
    return f"{esc(message[:SHOWN_MESSAGE_CHARS])}… <i>({len(message):,} characters)</i>"


def timings_line(answer: Answer) -> str:
    """The progress bubble's final title; Gradio appends the total duration itself."""
    steps = " · ".join(f"{k} {v / 1000:.1f} s" if v >= 1000 else f"{k} {v:.0f} ms"
                       for k, v in answer.timings_ms.items())
    return f"Checked and done — {steps}" if steps else "Done"


def respond_events(whyrec: Whyrec, message: str, history: list, session: Session, echo: bool = True):
    """The chat turn as a generator of (history, session, answer_json): progress first, then the cards. `echo`:
    append the shopper's bubble (False when `enqueue` showed it already)."""
    history = history if not echo else list(history or [])
    message = (message or "").strip()
    if not message:
        history.append({"role": "assistant", "content": message_html(EMPTY_MESSAGE)})
        yield history, session, None
        return
    if echo:
        history.append({"role": "user", "content": shown_message(message)})
    progress = {"role": "assistant", "content": "", "metadata": {"title": "Working on it…", "status": "pending"}}
    history.append(progress)
    yield history, session, None
    started, steps, n_tokens, answer, draft = time.perf_counter(), [], 0, None, None
    try:
        for event in whyrec.stream(message, session.user_id, session.conversation):
            if isinstance(event, Answer):
                answer = event
            elif isinstance(event, Draft):  # the cards at once; their reasons are rewritten when the model is done
                draft_cards = answer_html(event.answer, card_context(whyrec, session, event.facets))
                draft = {"role": "assistant",
                         "content": f'<div class="wr-draft">{message_html(DRAFTING)}{draft_cards}</div>'}
                history.append(draft)
                yield history, session, None
            elif isinstance(event, Progress):
                steps.append(event.label)
                progress["metadata"]["title"] = event.label
                progress["content"] = "\n".join(f"- {s}" for s in steps)
                yield history, session, None
            elif isinstance(event, Token):  # at most ~10 a second (`Whyrec.stream`)
                n_tokens += event.pieces
                progress["metadata"]["title"] = f"Explaining with cited facts… ({n_tokens} tokens)"
                yield history, session, None
        if answer is None:
            raise RuntimeError("the chain finished without an answer")
    except Exception as e:  # the shopper gets a sentence; the log gets the traceback
        log.exception("chat turn failed (user %s)", session.user_id)
        progress["metadata"].update(title="Stopped", status="done")
        if draft is not None:  # the checked cards stay; only the model's own wording is missing
            draft["content"] = draft_cards
        history.append({"role": "assistant", "content": message_html(FAILED.format(kind=type(e).__name__), "error")})
        yield history, session, None
        return
    wall_s = time.perf_counter() - started
    log.info("turn user=%s wall_s=%.2f timings_ms=%s", session.user_id, wall_s, answer.timings_ms)
    progress["metadata"].update(title=timings_line(answer), status="done", duration=round(wall_s, 1))
    final = answer_html(answer, card_context(whyrec, session))
    if draft is not None:
        draft["content"] = final
    else:
        history.append({"role": "assistant", "content": final})
    yield history, session, answer.model_dump(mode="json")


def chips_html(answer: Answer | None) -> str:
    """The active constraints as chips (the checkbox group beside them removes one)."""
    if answer is None or not answer.constraints:
        return '<div class="wr-chips wr-chips-empty">No constraints yet.</div>'
    relaxed = {(r.key, r.value) for r in answer.relaxed}
    chips = "".join(f'<span class="wr-chip{" wr-chip-relaxed" if (c.key, c.value) in relaxed else ""}" '
                    f'data-key="{esc(c.key)}">{esc(c.label)}</span>' for c in answer.constraints)
    return f'<div class="wr-chips"><b>Active:</b> {chips}</div>'


def constraint_choices(session: Session) -> list[str]:
    return [f.label for f in session.conversation.constraints]


def remove_constraints(session: Session, kept_labels: list[str]) -> list[str]:
    """The shopper unticked chips: those constraints leave the conversation. Returns the removed labels."""
    removed = [f for f in session.conversation.constraints if f.label not in set(kept_labels or [])]
    for f in removed:
        session.conversation.remove(f.key, f.value)
    return [f.label for f in removed]


def enqueue(message: str, session: Session, shown: str | None = None, chain_message: str | None = None) -> bool:
    """Put a typed message in the session's queue and show its bubble at once (marked queued while a turn runs).
    Returns False for an empty message (nothing queued)."""
    message = (message or "").strip()
    if not message:
        return False
    bubble: dict[str, Any] = {"role": "user", "content": shown or shown_message(message)}
    if session.busy or session.pending:
        bubble["content"] += f' <i class="wr-queued">({QUEUED})</i>'
    session.chat.append(bubble)
    session.pending.append((chain_message or message, len(session.chat) - 1))
    return True


def run_next(whyrec: Whyrec, session: Session):
    """Answer the oldest queued message: a generator of (chat, session, answer_json) like `respond_events`."""
    if not session.pending:
        yield list(session.chat), session, None
        return
    message, bubble = session.pending.pop(0)
    if 0 <= bubble < len(session.chat):  # no longer queued
        content = session.chat[bubble]["content"]
        session.chat[bubble]["content"] = content.replace(f' <i class="wr-queued">({QUEUED})</i>', "")
    session.busy = True
    try:
        for chat, state, answer_json in respond_events(whyrec, message, session.chat, session, echo=False):
            yield list(chat), state, answer_json
    finally:
        session.busy = False


def recommend_once(whyrec: Whyrec, user_id: str, message: str, conversation_id: str | None = None) -> dict[str, Any]:
    """One API turn: the structured answer, or a gr.Error with a plain sentence. With the `conversation_id` of an
    earlier answer (same shopper) the turn continues that conversation; without one it starts a new one."""
    import gradio as gr

    message = (message or "").strip()
    if not message:
        raise gr.Error(EMPTY_MESSAGE)
    try:
        user, started = shopper_id(user_id), time.perf_counter()
        conversation = whyrec.conversation((conversation_id or "").strip() or None, user)
        answer = whyrec.ask(message, user_id=user, conversation=conversation)
        log.info("api turn user=%s wall_s=%.2f timings_ms=%s", user, time.perf_counter() - started, answer.timings_ms)
        return answer.model_dump(mode="json")
    except Exception as e:
        log.exception("api turn failed (user %s)", user_id)
        raise gr.Error(FAILED.format(kind=type(e).__name__)) from None


def theme() -> gr.themes.Base:
    import gradio as gr

    # System fonts only: the default theme asks Google Fonts, which an offline machine cannot reach.
    return gr.themes.Soft(primary_hue="indigo", secondary_hue="amber", neutral_hue="slate",
                          font=["Inter", "ui-sans-serif", "system-ui", "Segoe UI", "sans-serif"],
                          font_mono=["ui-monospace", "SFMono-Regular", "monospace"])


def shoppers_info(n_users: int) -> str:
    if n_users == 0:
        return ("This catalogue has no shopper histories: everyone starts as a new shopper. Type any id to "
                "name yourself, or just ask.")
    return f"{n_users} shoppers from the dataset; type any id, or stay a new shopper."


def build_app(whyrec: Whyrec, user_limit: int = 200, catalogues: Catalogues | None = None) -> gr.Blocks:
    """The page around `whyrec` (the default catalogue); `catalogues`: the others it can switch to."""
    import gradio as gr

    settings = whyrec.settings
    catalogues = catalogues or Catalogues(whyrec)
    users = whyrec.retriever.users(user_limit)
    examples = examples_for(settings.dataset)
    n_examples = max(len(examples_for(d)) for d in catalogues.available)

    def serving(session: Session | None) -> Whyrec:
        return catalogues.get(session.dataset if session else None)

    def chips_update(session: Session):
        labels = constraint_choices(session)
        return gr.update(choices=labels, value=labels, visible=bool(labels))

    def choose_shopper(choice: str | None, session: Session | None = None):
        dataset = session.dataset if session else None
        try:
            current = serving(session)
            session = start_session(current, choice, dataset)
        except Exception as e:
            log.exception("could not load shopper %r", choice)
            session = Session(user_id=shopper_id(choice), dataset=dataset,
                              conversation=Conversation(user_id=shopper_id(choice)))
            return session, [], message_html(FAILED.format(kind=type(e).__name__), "error"), None
        return session, [], history_panel(session, binary_ratings=current.catalogue.stats.binary_ratings), None

    def choose_dataset(name: str | None, session: Session | None = None):
        """Switch the catalogue: a fresh conversation, the shopper list and examples of that dataset."""
        name = (name or "").strip() or catalogues.default
        keep = session or Session()
        try:
            current = catalogues.get(name)
            shoppers = current.retriever.users(user_limit)
            binary = current.catalogue.stats.binary_ratings
        except KeyError:
            why = catalogues.unavailable.get(name, f"{name!r} is not a catalogue this page offers")
            note = message_html(f"The catalogue {name} is not available: {why}.", "error")
            return (keep, list(keep.chat) + [{"role": "assistant", "content": note}], gr.update(), None,
                    gr.update(), *[gr.update()] * n_examples, gr.update(), gr.update())
        except Exception as e:  # a broken index: a sentence, and the page stays on its catalogue
            log.exception("could not switch to %s", name)
            note = message_html(FAILED.format(kind=type(e).__name__), "error")
            return (keep, list(keep.chat) + [{"role": "assistant", "content": note}], gr.update(), None,
                    gr.update(), *[gr.update()] * n_examples, gr.update(), gr.update())
        fresh = Session(dataset=name)
        texts = examples_for(name)
        buttons = [gr.update(value=texts[i], visible=True) if i < len(texts) else gr.update(visible=False)
                   for i in range(n_examples)]
        shopper_update = gr.update(choices=[NEW_SHOPPER] + shoppers, value=NEW_SHOPPER, info=shoppers_info(len(shoppers)))
        return (fresh, [], history_panel(fresh, binary_ratings=binary), None, shopper_update, *buttons,
                gr.update(choices=[], value=[], visible=False), header_html(current.settings))

    def respond(message: str, history: list, session: Session | None):
        """The `/respond` API: the client sends its chat history; one turn, streamed."""
        session = session or Session()
        for chat, state, answer_json in respond_events(serving(session), message, history, session):
            session.chat = chat
            yield chat, state, answer_json, ""

    def page_enqueue(message: str, session: Session | None):
        session = session or Session()
        if not enqueue(message, session):  # nothing to run: say what to type, at once
            session.chat.append({"role": "assistant", "content": message_html(EMPTY_MESSAGE)})
        return "", list(session.chat), session

    def page_remove(kept: list[str], session: Session | None):
        session = session or Session()
        removed = remove_constraints(session, kept)
        if removed:
            enqueue(AGAIN, session, shown=esc(f"✕ removed: {', '.join(removed)}"), chain_message=AGAIN)
        return list(session.chat), session

    def page_run(session: Session | None):
        session = session or Session()
        for chat, state, answer_json in run_next(serving(session), session):
            yield chat, state, answer_json, chips_update(session)

    def recommend(user_id: str, message: str, conversation_id: str = "") -> dict:
        """One turn: the structured answer (recommendations, claims with verdicts, provenance, active constraints,
        relaxations). Pass the answer's `conversation_id` back to continue the conversation."""
        return recommend_once(whyrec, user_id, message, conversation_id)

    with gr.Blocks(title="whyrec — picks that show their evidence", analytics_enabled=False) as demo:
        session = gr.State(Session())
        header = gr.HTML(header_html(settings))
        with gr.Row(equal_height=False):
            with gr.Column(scale=1, min_width=260):
                dataset = gr.Radio(catalogues.available, value=settings.dataset, label="Catalogue",
                                   info="Switching starts a fresh conversation.", elem_id="wr-dataset",
                                   visible=len(catalogues.available) > 1 or bool(catalogues.unavailable),
                                   interactive=len(catalogues.available) > 1)
                gr.HTML(catalogues.status_html(), elem_id="wr-unavailable")
                shopper = gr.Dropdown([NEW_SHOPPER] + users, value=NEW_SHOPPER, label="Who are you?",
                                      info=shoppers_info(len(users)), allow_custom_value=True, elem_id="wr-shopper")
                past = gr.HTML(history_panel(Session()), elem_id="wr-past")
                gr.Markdown("**Try**: a request, then a refinement.")
                example_buttons = [gr.Button(examples[i] if i < len(examples) else "", size="sm", variant="secondary",
                                             visible=i < len(examples)) for i in range(n_examples)]
            with gr.Column(scale=3):
                chat = gr.Chatbot(label="Chat", show_label=False, height="70vh", min_height=440, elem_id="wr-chat",
                                  latex_delimiters=[], feedback_options=None, buttons=["copy"], placeholder=(
                                      f"<b>Ask for something</b><br>e.g. “{esc(examples[0])}”, then "
                                      f"“{esc(examples[1])}” or “why the second one?”"))
                chips = gr.CheckboxGroup([], value=[], label="Active constraints — untick one to remove it",
                                         visible=False, elem_id="wr-chips")
                with gr.Row():
                    box = gr.Textbox(placeholder="What are you shopping for? (you can type while I answer)",
                                     show_label=False, scale=5, autofocus=True, elem_id="wr-message",
                                     submit_btn=False)
                    send = gr.Button("Send", variant="primary", scale=1, elem_id="wr-send")
                    api_respond = gr.Button("respond", visible=False)
                with gr.Accordion("Answer JSON — claims, verdicts, provenance", open=False):
                    answer_json = gr.JSON(label="Last answer", elem_id="wr-json")

        shopper.change(choose_shopper, [shopper, session], [session, chat, past, answer_json], api_name="choose_shopper",
                       concurrency_limit=4, concurrency_id="shopper").then(
            chips_update, session, chips, queue=False, api_name=False)
        dataset.input(choose_dataset, [dataset, session],
                      [session, chat, past, answer_json, shopper, *example_buttons, chips, header],
                      api_name="choose_dataset", concurrency_limit=1, concurrency_id="dataset")
        # `multiple`: a trigger while the previous turn runs is queued, never ignored (Gradio's default is "once")
        run = dict(fn=page_run, inputs=[session], outputs=[chat, session, answer_json, chips],
                   concurrency_id=MODEL_QUEUE, trigger_mode="multiple", api_name=False)
        for trigger in (box.submit, send.click):
            trigger(page_enqueue, [box, session], [box, chat, session], queue=False, trigger_mode="multiple",
                    api_name=False).then(**run)
        for button in example_buttons:  # the button's current text: it follows the catalogue
            button.click(lambda text: text, button, box, api_name=False, queue=False,
                         trigger_mode="multiple").then(
                page_enqueue, [box, session], [box, chat, session], queue=False, trigger_mode="multiple",
                api_name=False).then(**run)
        chips.input(page_remove, [chips, session], [chat, session], queue=False, trigger_mode="multiple",
                    api_name=False).then(**run)
        api_respond.click(respond, [box, chat, session], [chat, session, answer_json, box], api_name="respond",
                          concurrency_id=MODEL_QUEUE)
        gr.api(recommend, api_name="recommend", concurrency_id=MODEL_QUEUE)
    return demo


def header_html(settings) -> str:
    return (f'<div class="wr-header"><h1>whyrec</h1><p>Recommendations that show their evidence: every reason '
            f"cites the item's real attributes and your real history, checked before it is shown.</p>"
            f'<p class="wr-meta">catalogue <b>{esc(settings.dataset)}</b> · model <b>{esc(settings.backend)}</b>'
            f"{' · ' + esc(settings.openai_base_url) if settings.backend == 'openai' else ''}</p></div>")


def configure_logging(home: Path) -> Path:
    path = home / "logs" / "ui.log"
    path.parent.mkdir(parents=True, exist_ok=True)
    if not any(isinstance(h, logging.FileHandler) and Path(h.baseFilename) == path for h in log.handlers):
        handler = logging.FileHandler(path)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
        log.addHandler(handler)
        log.addHandler(logging.StreamHandler())
        log.setLevel(logging.INFO)
    return path


def warm_up(whyrec: Whyrec) -> None:
    """Load catalogue, index, embedder and model now, once: the first shopper should not wait for them, and
    sessions must not race to build the shared objects (cached properties are not locked)."""
    whyrec.chain
    whyrec.retriever.candidates("gift", None, 1)  # opens Chroma and loads MiniLM
    load = getattr(whyrec.llm, "loaded", None)  # the local backend loads its weights lazily; a server has none
    if callable(load):
        load()


def launch(whyrec: Whyrec, host: str = "127.0.0.1", port: int = 7860, auth: tuple[str, str] | None = None,
           concurrency: int = 1, user_limit: int = 200, block: bool = True,
           catalogues: Catalogues | None = None) -> tuple[gr.Blocks, str]:
    """Build the app around an already-built Whyrec and serve it. Returns (app, local url).

    `concurrency` is how many chain runs may proceed at once across all sessions (see agent/commands/chat.py).
    `catalogues`: the datasets the page may switch to (default: the shipped ones that are indexed)."""
    configure_logging(whyrec.settings.home)
    warm_up(whyrec)
    demo = build_app(whyrec, user_limit, catalogues or Catalogues.discover(whyrec))
    demo.queue(default_concurrency_limit=concurrency)
    _, url, _ = demo.launch(server_name=host, server_port=port, auth=auth, prevent_thread_lock=not block,
                            theme=theme(), css=CSS + PAGE_CSS, ssr_mode=False, show_error=False, quiet=not block,
                            footer_links=["api"])
    return demo, url


PAGE_CSS = """
.wr-header h1 { margin: 0; font-size: 1.9em; letter-spacing: -.02em; }
.wr-header p { margin: 2px 0; opacity: .8; }
.wr-header .wr-meta { font-size: .85em; opacity: .6; }
#wr-chat .message-wrap .bot { max-width: 100%; }
.wr-queued { opacity: .7; font-size: .85em; }
.wr-unavailable { font-size: .85em; opacity: .75; }
.wr-unavailable ul { margin: 2px 0 0 1em; }
"""
