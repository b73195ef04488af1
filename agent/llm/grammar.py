"""Grammar-constrained decoding for the local backend: OpenAI-style `response_format` -> xgrammar token masks.

The same `response_format` the chain sends to vLLM is compiled here, so both backends obey one contract
(DESIGN.md, grounding contract 1): a handle or an id the schema does not enumerate cannot be decoded.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from typing import Any

import torch
import xgrammar as xgr


def schema_of(response_format: dict[str, Any]) -> dict[str, Any] | None:
    """The JSON schema inside an OpenAI `response_format`; None for `{"type": "json_object"}` (any JSON)."""
    kind = response_format.get("type")
    if kind == "json_schema":
        spec = response_format.get("json_schema") or {}
        if "schema" not in spec:
            raise ValueError("response_format json_schema needs a 'schema' key")
        return spec["schema"]
    if kind == "json_object":
        return None
    raise ValueError(f"unsupported response_format type {kind!r} (expected json_schema or json_object)")


class GrammarCache:
    """Compiles schemas for one tokenizer, once each: compiling costs ~0.35 s, masking a token microseconds."""

    def __init__(self, tokenizer: Any, vocab_size: int, stop_token_ids: list[int], max_entries: int = 64) -> None:
        info = xgr.TokenizerInfo.from_huggingface(tokenizer, vocab_size=vocab_size, stop_token_ids=stop_token_ids)
        self._compiler = xgr.GrammarCompiler(info, max_threads=2)
        self._compiled: OrderedDict[str, xgr.CompiledGrammar] = OrderedDict()
        self._max_entries = max_entries
        self._lock = threading.Lock()
        self.vocab_size = vocab_size

    def compile(self, response_format: dict[str, Any]) -> xgr.CompiledGrammar:
        schema = schema_of(response_format)
        key = hashlib.sha256(json.dumps(schema, sort_keys=True).encode()).hexdigest()
        with self._lock:
            if key in self._compiled:
                self._compiled.move_to_end(key)
                return self._compiled[key]
            if schema is None:
                compiled = self._compiler.compile_builtin_json_grammar()
            else:
                # compact JSON only: with free whitespace the 135M model pads with spaces until max_new_tokens. And
                # compact separators, as the adapter's targets are written (agent/train/data.py `completion`):
                # xgrammar's default without free whitespace is ", " and ": ", and v15, taught '","', wrote '"]'
                # after its first handle, citing one claim while its sentence said two
                compiled = self._compiler.compile_json_schema(json.dumps(schema), any_whitespace=False,
                                                              separators=(",", ":"))
            self._compiled[key] = compiled
            if len(self._compiled) > self._max_entries:
                self._compiled.popitem(last=False)
            return compiled


class TokenConstraint:
    """Per-generation state: masks the logits to what the grammar allows next and follows the chosen tokens."""

    def __init__(self, compiled: xgr.CompiledGrammar, vocab_size: int) -> None:
        self._matcher = xgr.GrammarMatcher(compiled)
        self._bitmask = xgr.allocate_token_bitmask(1, vocab_size)
        self._vocab_size = vocab_size

    def mask_(self, logits: torch.Tensor) -> None:
        """Set disallowed tokens of `logits` (shape [1, vocab], any device) to -inf, in place."""
        if self._matcher.fill_next_token_bitmask(self._bitmask):
            xgr.apply_token_bitmask_inplace(logits, self._bitmask.to(logits.device))

    def accept(self, token_id: int) -> None:
        if not self._matcher.accept_token(token_id):
            raise RuntimeError(f"grammar rejected token {token_id} that its own mask allowed")

    def accept_while(self, ids: list[int]) -> list[int]:
        """Accept `ids` in order up to the first the grammar refuses (a string's length cap); returns those taken."""
        taken = []
        for token_id in ids:
            if not self._matcher.accept_token(token_id):
                break
            taken.append(token_id)
        return taken

    def jump_forward(self, tokenizer: Any, budget: int) -> list[int]:
        """Tokens of the text the grammar forces next (keys, punctuation), accepted without decoding them.

        Without this the model spells forced keys in odd fragments ('"', 'c', 'la', 'i', 'ms') because the mask
        forbids its preferred whitespace token: 2-3x the tokens, and text it never saw in training. The forced
        text is tokenized canonically and fed in one forward pass.
        """
        text = self._matcher.find_jump_forward_string()
        # A closing quote (after a handle the enum has completed: '"' or '6"') is left to the model: its training
        # text has it merged with what follows ('","', '"]'), and forced alone it made a context v15 never saw,
        # where it went on citing handles (three, one twice) instead of closing the list
        if text.endswith('"') and text[-2:-1] not in ("[", "{", ":", ","):
            text = text[:-1]
        if not text or budget <= 0:
            return []
        ids = tokenizer.encode(text, add_special_tokens=False)
        if len(ids) > budget:
            ids = ids[:budget]
            text = tokenizer.decode(ids)
        if not self._matcher.accept_string(text):
            raise RuntimeError(f"grammar rejected its own forced text {text!r}")
        return ids

    def only_stop_allowed(self) -> bool:
        """The JSON is complete and nothing may follow: end now instead of decoding the stop token."""
        if not self._matcher.is_completed():
            return False
        probe = torch.zeros(1, self._vocab_size)
        self.mask_(probe)
        allowed = torch.isfinite(probe[0]).nonzero().flatten().tolist()
        return set(allowed) <= set(self._matcher.stop_token_ids)
