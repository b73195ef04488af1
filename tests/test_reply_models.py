"""One pydantic model per request is the prompt's declared output, the decoding constraint and the parser."""

from __future__ import annotations

import pytest

from agent.reply_models import REPLY_SCHEMAS, explain_claims, parse_reply, rank_order, response_format
from prompts.loader import all_templates

pytestmark = pytest.mark.fast


def test_the_schema_enumerates_exactly_this_requests_handles() -> None:
    schema = response_format(explain_claims(["a1", "h2", "r1"], 3, 120))["json_schema"]["schema"]
    claims = schema["properties"]["claims"]
    assert claims["items"]["enum"] == ["a1", "h2", "r1"]
    assert (claims["minItems"], claims["maxItems"]) == (1, 3)
    assert schema["properties"]["text"]["maxLength"] == 120
    assert schema["additionalProperties"] is False and schema["required"] == ["claims", "text"]


def test_a_single_handle_is_still_an_enum() -> None:
    schema = response_format(explain_claims(["none"], 3, 120))["json_schema"]["schema"]
    assert schema["properties"]["claims"]["items"] == {"type": "string", "enum": ["none"]}
    assert parse_reply(explain_claims(["none"], 3, 120), '{"claims": ["a1"], "text": "x"}')[0] is None


def test_the_parser_rejects_what_the_schema_forbids() -> None:
    model = explain_claims(["a1", "h1"], 2, 20)
    reply, problems = parse_reply(model, '{"claims": ["a1"], "text": "By Starbucks."}')
    assert reply.claims == ["a1"] and reply.text == "By Starbucks." and problems == []
    for raw, says in [('{"claims": ["a7"], "text": "x"}', "claims.0"),  # a handle this prompt never offered
                      ('{"claims": ["a1"], "text": "x", "note": 1}', "note"),  # an extra key
                      ('{"claims": [], "text": "x"}', "claims"),  # no claim
                      ('{"claims": ["a1", "h1", "a1"], "text": "x"}', "claims"),  # more than max_claims
                      ('{"claims": ["a1"], "text": "' + "y" * 21 + '"}', "text"),  # over the length limit
                      ('{"claims": ["a1"], "te', "reply")]:  # cut off
        reply, problems = parse_reply(model, raw)
        assert reply is None and any(p.startswith(says) for p in problems), (raw, problems)


def test_rank_order_takes_only_candidate_handles() -> None:
    model = rank_order(3)
    assert parse_reply(model, '{"order": ["C3", "C1"]}')[0].order == ["C3", "C1"]
    assert parse_reply(model, '{"order": ["C4"]}')[0] is None


def test_every_template_names_a_registered_schema() -> None:
    assert {t.output_schema for t in all_templates().values()} <= set(REPLY_SCHEMAS)
