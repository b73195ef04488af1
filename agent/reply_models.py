"""The grounding contract's one source: a pydantic model per request, used three ways (STYLE.md #2).

1. the prompt's declared output: templates name their schema (`output_schema: explain_claims`) from `REPLY_SCHEMAS`;
2. the decoding constraint: `response_format(model)` hands `model_json_schema()` to xgrammar in-process and to a
   vLLM server as `response_format` json_schema;
3. the parser: `parse_reply(model, raw)` is `model_validate_json`; what it rejects becomes the verifier's problems.
   `text_so_far(raw)` reads the sentence of a reply still being written (or abandoned: `without_text(raw)`).

The handles a request may cite are `Literal`s, so an id or attribute that is not in this prompt cannot be decoded,
and cannot be parsed from a server that ignored the constraint. Schemas stay plain (str, list, enum): grammar
engines choke on formats.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, WithJsonSchema, create_model

FORBID_EXTRA = ConfigDict(extra="forbid")


def one_of(handles: list[str]) -> Any:
    """A string that must be one of `handles`; its schema is always an enum (pydantic writes a one-value Literal
    as `const`, which not every server's grammar engine or client reads as a choice)."""
    return Annotated[Literal[tuple(handles)], WithJsonSchema({"type": "string", "enum": list(handles)})]


def explain_claims(handles: list[str], max_claims: int, max_chars: int) -> type[BaseModel]:
    """One candidate's reason: 1..max_claims of ITS OWN handles, and one sentence of at most max_chars."""
    return create_model("ExplainClaims", __config__=FORBID_EXTRA,
                        claims=(list[one_of(handles)], Field(min_length=1, max_length=max_claims)),
                        text=(str, Field(max_length=max_chars)))


def rank_order(n_candidates: int) -> type[BaseModel]:
    """The model's order of the shortlist: 1..n of the candidate handles C1..Cn."""
    handles = [f"C{i + 1}" for i in range(n_candidates)]
    return create_model("RankOrder", __config__=FORBID_EXTRA,
                        order=(list[one_of(handles)], Field(min_length=1, max_length=n_candidates)))


REPLY_SCHEMAS: dict[str, Callable[..., type[BaseModel]]] = {"explain_claims": explain_claims,
                                                            "rank_order": rank_order}


def response_format(model: type[BaseModel]) -> dict[str, Any]:
    """The OpenAI-style `response_format` both backends take (the local one compiles it with xgrammar)."""
    return {"type": "json_schema",
            "json_schema": {"name": model.__name__, "schema": model.model_json_schema(), "strict": True}}


def parse_reply(model: type[BaseModel], raw: str) -> tuple[BaseModel | None, list[str]]:
    """The reply as the model, or None and what was wrong with it (one line per problem)."""
    try:
        return model.model_validate_json(raw), []
    except ValidationError as e:
        return None, [f"{'.'.join(str(p) for p in err['loc']) or 'reply'}: {err['msg']}" for err in e.errors()]


# `"text": "` and then the sentence; the grammar puts it after the claims, so both are known once it starts
_TEXT_START = re.compile(r'"text"\s*:\s*"')
_CLAIMS = re.compile(r'"claims"\s*:\s*\[([^\]]*)\]')
_OPEN_ESCAPE = re.compile(r'\\(?:u[0-9a-fA-F]{0,3})?$')  # "\" or "\u20" cut before its end
_TEXT_END = re.compile(r'(?<!\\)(?:\\\\)*"')  # the first quote no backslash escapes: the sentence is closed


def text_so_far(raw: str) -> str | None:
    """The `text` of an explain reply whose JSON may still be open (being decoded), unescaped; None before the
    sentence starts. `{"claims": ["a1"], "text": "A card for \\"Kids` -> 'A card for "Kids'."""
    start = _TEXT_START.search(raw)
    if start is None:
        return None
    body = raw[start.end():]
    end = _TEXT_END.search(body)
    body = body[:end.start() + len(end.group(0)) - 1] if end else _OPEN_ESCAPE.sub("", body)
    try:
        return json.loads(f'"{body}"')
    except json.JSONDecodeError:
        return None


def cited_so_far(raw: str) -> list[str]:
    """The claim handles an explain reply has written before its sentence: `{"claims": ["h4", "a1"], "text": "It`
    -> ["h4", "a1"]; [] before the list closes."""
    found = _CLAIMS.search(raw)
    return re.findall(r'"([^"]+)"', found.group(1)) if found else []


def text_closed(raw: str) -> bool:
    """Whether an explain reply's sentence has ended: its closing quote is written."""
    start = _TEXT_START.search(raw)
    return bool(start and _TEXT_END.search(raw, start.end()))


def without_text(raw: str) -> str | None:
    """An explain reply abandoned while writing its sentence, closed with an empty sentence: its claims, which the
    model had finished, still parse. None when the sentence had not started."""
    start = _TEXT_START.search(raw)
    return raw[:start.end()] + '"}' if start else None
