"""Base model vs LoRA adapter on held-out Gift Cards TEST pairs, on the explain step alone.

Each pair gets the prompt the chain would build (agent/train/data.py: request from the item's facts, the user's
known history, the held-out item as the candidate) and both models answer it through the local backend,
greedy. Two decoding modes:
  - `schema`: the per-candidate JSON schema (as the chain sends it). Handles are enumerated, so raw claim precision
    is high by construction; what differs is the text and which claims are chosen.
  - `json`: any JSON object (a server that ignores the schema): raw claim precision then measures the model.
Per mode and model:
  raw_claim_precision   supported / total claims before the verifier drops anything (NaN when none)
  fallback_share        share of reasons the chain would replace with a rendering of verified facts
                        (missing reason, no supported claim, an unsupported claim, or text the checker rejects)
  review_hit_rate       share of held-out items whose reason cites >= 1 attribute the held-out review talks about
                        (pairs whose review names no attribute are left out of this rate)
  tokens_per_s          mean steady decode rate reported by the backend
"""

from __future__ import annotations

import json
import math
import statistics
import time
from pathlib import Path

from agent.explain import read_reason, reply_model
from agent.reply_models import response_format
from agent.train.data import Example
from agent.verify import Evidence, TextChecker, verify_reason

MODES = {
    "schema": lambda ex, template: response_format(reply_model(ex.handles, template, 0)),
    "json": lambda ex, template: {"type": "json_object"},
}


def score_reply(raw: str, ex: Example, template, checker: TextChecker) -> dict:
    reason, errors = read_reason(raw, ex.handles, template, 0)
    supported = total = 0
    fallback, review_hit = True, None
    if reason is not None:
        evidence = Evidence(item=ex.handles.candidates[0], history={p.item.item_id: p.item for p in ex.handles.history},
                            facets=ex.request.facets, message=ex.request.message, stats=ex.handles.stats)
        ok, bad, problems = verify_reason(reason, evidence, checker, ex.handles.offered(0))
        supported, total = len(ok), len(ok) + len(bad)
        fallback = not (reason.text and ok and not bad and not problems)
        if ex.review_handles:
            reviewed = {(c.attribute, c.value) for c in (ex.handles.to_claim(0, h) for h in ex.review_handles)}
            review_hit = any(c.kind == "attribute" and (c.attribute, c.value) in reviewed for c in ok)
    if ex.review_handles and review_hit is None:
        review_hit = False
    return {"supported": supported, "claims": total, "reasons": 1, "fallbacks": int(fallback),
            "review_hit": review_hit, "errors": errors}


def run_model(llm, examples: list[Example], template, checker: TextChecker, mode: str) -> tuple[dict, list[dict]]:
    rows = []
    for ex in examples:
        bound = llm.bind(response_format=MODES[mode](ex, template), max_tokens=template.generation.max_new_tokens)
        reply = bound.invoke(ex.messages)
        row = score_reply(str(reply.content), ex, template, checker)
        timing = reply.response_metadata.get("timing", {})
        row.update(user_id=ex.user_id, item_id=ex.item_id, raw=str(reply.content),
                   tokens=reply.usage_metadata["output_tokens"], tokens_per_s=timing.get("tokens_per_s"),
                   first_token_s=timing.get("first_token_s"))
        rows.append(row)
    claims = sum(r["claims"] for r in rows)
    hits = [r["review_hit"] for r in rows if r["review_hit"] is not None]
    rates = [r["tokens_per_s"] for r in rows if r["tokens_per_s"]]
    summary = {
        "raw_claim_precision": sum(r["supported"] for r in rows) / claims if claims else math.nan,
        "claims_per_reason": claims / max(1, sum(r["reasons"] for r in rows)),
        "fallback_share": sum(r["fallbacks"] for r in rows) / max(1, sum(r["reasons"] for r in rows)),
        "review_hit_rate": sum(hits) / len(hits) if hits else math.nan,
        "review_pairs": len(hits),
        "replies_with_errors": sum(bool(r["errors"]) for r in rows),
        "tokens_per_s": statistics.mean(rates) if rates else math.nan,
        "first_token_s": statistics.mean(r["first_token_s"] for r in rows if r["first_token_s"] is not None),
        "output_tokens": statistics.mean(r["tokens"] for r in rows),
    }
    return summary, rows


def compare(base: Path, adapter: Path, data_dir: Path, out: Path, n: int = 20, seed: int = 0,
            modes: tuple[str, ...] = ("schema", "json"), device: str = "auto", history: int | None = None) -> dict:
    """Write `out` (summary per model and mode) and `out`.samples.jsonl (every raw reply with its scores).
    `history`: history items per prompt (default: the chain's settings)."""
    from agent.llm.local import LocalChatModel
    from agent.settings import Settings
    from agent.train.data import GIFT, Shape, Shoppers, held_out_examples
    from index.loaders import load_dataset
    from index.split import get_split
    from prompts.loader import get_template

    settings = Settings(data_dir=data_dir)
    template = get_template(settings.template)
    dataset = load_dataset(GIFT, data_dir)
    split = get_split(dataset, data_dir, seed=0)
    shape = Shape(history or settings.max_history, settings.max_attributes)
    gift = Shoppers(dataset, [template], shape, seed)
    examples = held_out_examples(gift, split, "test", n)
    checker = TextChecker(gift.catalogue.vocabulary)
    results: dict = {"pairs": len(examples), "split_sha256": split.sha256, "adapter": str(adapter),
                     "base": base.name, "template": f"{template.id}@{template.version}", "seed": seed,
                     "shape": vars(shape), "method": __doc__, "models": {}}
    samples = []
    for name, adapter_dir in (("base", None), ("lora", adapter)):
        llm = LocalChatModel(model_dir=base, adapter=adapter_dir, device=device)
        for mode in modes:
            t0 = time.perf_counter()
            summary, rows = run_model(llm, examples, template, checker, mode)
            summary["seconds"] = round(time.perf_counter() - t0, 1)
            results["models"].setdefault(name, {})[mode] = summary
            samples += [{"model": name, "mode": mode, **r} for r in rows]
            print(name, mode, json.dumps(summary), flush=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=1, default=str) + "\n")
    out.with_suffix(".samples.jsonl").write_text("".join(json.dumps(s, default=str) + "\n" for s in samples))
    return results


if __name__ == "__main__":
    import click

    from agent.settings import PROJECT_ROOT, Settings

    @click.command()
    @click.option("--adapter", type=click.Path(path_type=Path), default=PROJECT_ROOT / "agent/adapters/whyrec-reasons")
    @click.option("--out", type=click.Path(path_type=Path), default=PROJECT_ROOT / "eval/results/lora_vs_base.json")
    @click.option("--n", type=int, default=20, help="held-out test pairs")
    @click.option("--modes", default="schema,json")
    @click.option("--history", type=int, default=None, help="history items per prompt (default: settings.max_history)")
    def main(adapter: Path, out: Path, n: int, modes: str, history: int | None) -> None:
        """python -m agent.train.compare: base vs adapter on held-out Gift Cards test pairs."""
        s = Settings()
        compare(s.base_model_dir, adapter, s.data_dir, out, n=n, modes=tuple(modes.split(",")), history=history)

    main()
