"""The README's speed figures, rendered from a `whyrec bench` results JSON, never typed by hand.

`whyrec bench --readme README.md` (or `python -m eval.figures RESULTS.json README.md`) rewrites the block between
`<!-- bench:begin -->` and `<!-- bench:end -->` with the table below. Turn targets depend on the CPU (issue 14):
2.0 s / 1.0 s to the first chosen token where bf16 is native, 3.0 s / 1.5 s on an AVX2-only CPU.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"


def _row(figure: str, measured: str, target: str, met: bool | None) -> str:
    return f"| {figure} | {measured} | {target} | {'—' if met is None else ('yes' if met else '**no**')} |"


def bench_table(results: dict[str, Any], source: str) -> str:
    """Markdown: where and when it ran, then one row per figure with its target and whether it is met."""
    m, b = results["machine"], results["benchmarks"]
    native_bf16 = "bf16" in m.get("cpu_capability", "")
    turn_target, chosen_target = (2.0, 1.0) if native_bf16 else (3.0, 1.5)
    lines = [f"From `whyrec bench --out {source} --readme README.md` on {m['cores']} cores ({m['cpu']}, "
             f"{m.get('cpu_capability', 'capability not recorded')}, model in {m.get('dtype', '?')}"
             f"{' with int8 Linear layers' if m.get('quantize') == 'int8' else ''}"
             f"{f', {n} guessed tokens per decode step' if (n := m.get('speculate')) else ''}), load "
             f"{m['load_avg_1m_at_start']} at start, {m['date'][:10]}, commit `{m['git_commit'][:7]}`"
             f"{f' ({n:,}-item sample)' if (n := results.get('sample_items')) else ''}.", "",
             "| figure | measured | target | met |", "|---|---|---|---|"]
    if i := b.get("index"):
        lines.append(_row("index build vs raw MiniLM encode, same texts (Steam)",
                          f"{i['build_items_per_s']} vs {i['encode_items_per_s']} items/s = {i['build_over_encode']}",
                          "≥ 0.9", i["build_over_encode"] >= 0.9))
    if r := b.get("retrieval"):
        lines.append(_row(f"filtered top-50 retrieval at {r['items']:,} items, p50 / p95",
                          f"{r['p50_ms']} / {r['p95_ms']} ms", "p50 ≤ 10 ms", r["p50_ms"] <= 10))
        if "chroma_p50_ms" in r:
            lines.append(_row("… the same queries through Chroma's HNSW index, p50 / p95",
                              f"{r['chroma_p50_ms']} / {r['chroma_p95_ms']} ms", "", None))
    if t := b.get("turn"):
        lines.append(_row(f"chat turn k={t['k']} with reasons, embedded default, p50 / p95",
                          f"{t['turn_p50_s']} / {t['turn_p95_s']} s", f"p50 ≤ {turn_target} s",
                          t["turn_p50_s"] <= turn_target))
        lines.append(_row("… time to the first token the model chose, p50 / p95",
                          f"{t['first_chosen_token_p50_s']} / {t['first_chosen_token_p95_s']} s",
                          f"p50 ≤ {chosen_target} s", t["first_chosen_token_p50_s"] <= chosen_target))
        lines.append(_row("… time to the first streamed token (grammar-forced JSON opening counts), p50",
                          f"{t['first_token_p50_s']} s", "", None))
        lines.append(_row("… time to the first cards (ranked, reasons from verified facts), p50 / p95",
                          f"{t['first_card_p50_s']} / {t['first_card_p95_s']} s", "p50 ≤ 0.1 s",
                          t["first_card_p50_s"] <= 0.1))
        if "follow_up_p50_s" in t:
            cards = f" ({c} cards on average, first turns {t['k']})" if (c := t.get("follow_up_cards_mean")) else ""
            lines.append(_row("follow-up turn (\"cheaper\", same shopper, sent at once) vs first turn, p50",
                              f"{t['follow_up_p50_s']} vs {t['turn_p50_s']} s = {t['follow_up_over_first']}{cards}",
                              "≤ 0.6", t["follow_up_over_first"] <= 0.6))
    if d := b.get("decode"):
        lines.append(_row("chain decode vs raw `generate`, same prompts, batch and output lengths",
                          f"{d['chain_tokens_per_s']} vs {d['raw_generate_tokens_per_s']} tok/s = {d['chain_over_raw']}",
                          "≥ 0.9", d["chain_over_raw"] >= 0.9))
        lines.append(_row("… counting only tokens the model chose (not grammar-forced)",
                          f"{d['chain_chosen_tokens_per_s']} tok/s = {d['chain_chosen_over_raw']}", "", None))
        lines.append(_row("one decode step (forward pass) for 1 row / 5 rows, 300-token context",
                          f"{d['forward_ms_batch1']} / {d['forward_ms_batch5']} ms", "", None))
    if g := b.get("speculation"):
        lines.append(_row(f"chat turn with up to {g['guessed_per_step']} guessed tokens per step vs none, same turns, p50",
                          f"{g['turn_speculating_p50_s']} vs {g['turn_plain_p50_s']} s = {g['speculating_over_plain']} "
                          f"({g['guessed_kept_share']} of guesses kept; cards whose reasons differ: "
                          f"{g['cards_whose_reasons_differ']} of {g['cards']})", "", None))
    if a := b.get("abandon"):
        lines.append(_row("turn / \"cheaper\" follow-up abandoning doomed replies vs writing them whole, same turns, p50",
                          f"{a['turn_abandoning_p50_s']} vs {a['turn_whole_p50_s']} s = {a['abandoning_over_whole_turn']}"
                          f" / {a['follow_up_abandoning_p50_s']} vs {a['follow_up_whole_p50_s']} s = "
                          f"{a['abandoning_over_whole_follow_up']} ({a['replies_abandoned']} replies abandoned, "
                          f"{a['tokens_abandoning']} vs {a['tokens_whole']} tokens; cards whose reasons differ: "
                          f"{a['cards_whose_reasons_differ']} of {a['cards']}, fallback differs: "
                          f"{a['cards_whose_fallback_differs']})", "", None))
    if p := b.get("prefetch"):
        lines.append(_row(f"follow-up (\"cheaper\") prefetched while the shopper reads ({p['read_s']:g} s) vs "
                          "first turn, same run, p50",
                          f"{p['follow_up_after_reading_p50_s']} vs {p['first_p50_s']} s = "
                          f"{p['follow_up_after_reading_over_first']} (without prefetch "
                          f"{p['follow_up_after_reading_plain_p50_s']} s; {p['replies_reused']} of {p['replies']} "
                          f"replies reused; cards whose reasons differ: {p['cards_whose_reasons_differ']} of "
                          f"{p['cards']})", "≤ 0.6", p["follow_up_after_reading_over_first"] <= 0.6))
        lines.append(_row("… the follow-up sent at once (it waits for its own prefetch) vs without prefetch, p50",
                          f"{p['follow_up_at_once_p50_s']} vs {p['follow_up_at_once_plain_p50_s']} s", "", None))
    if a := b.get("adapter"):
        measured = a.get("skipped") or (
            f"{a['turn_adapter_p50_s']} vs {a['turn_base_p50_s']} s = {a['adapter_over_base']} (cards the model wrote: "
            f"{a['model_written_adapter']} vs {a['model_written_base']} of {a['cards']})")
        lines.append(_row("chat turn with the reasons adapter vs the base model, same turns, p50", measured, "≤ 1.0",
                          None if "skipped" in a else a["adapter_over_base"] <= 1.0))
    if g := b.get("guard"):
        lines.append(_row("chat turn with the copy guard vs without, same turns, p50",
                          f"{g['turn_guarded_p50_s']} vs {g['turn_unguarded_p50_s']} s = {g['guarded_over_unguarded']} "
                          f"(cards the model wrote: {g['model_written_guarded']} vs {g['model_written_unguarded']}; "
                          f"tokens the guard chose: {g['tokens_guarded']}; cards whose reasons differ: "
                          f"{g['cards_whose_reasons_differ']} of {g['cards']})", "", None))
    if s := b.get("server_turn"):
        measured = s.get("skipped") or f"{s['turn_p50_s']} / {s['turn_p95_s']} s (first token {s['first_token_p50_s']} s)"
        lines.append(_row("the same turn through a vLLM server, p50 / p95", measured, "", None))
    lines.append(_row("peak RSS of the whole run", f"{results['peak_rss_mib']} MiB", "", None))
    return "\n".join(lines)


def update_readme(readme: Path, block: str) -> None:
    text = readme.read_text()
    pattern = re.compile(re.escape(BEGIN) + r".*?" + re.escape(END), re.S)
    if not pattern.search(text):
        raise ValueError(f"{readme} has no {BEGIN} … {END} block to fill")
    readme.write_text(pattern.sub(lambda _: f"{BEGIN}\n{block}\n{END}", text))


if __name__ == "__main__":
    results_path, readme_path = Path(sys.argv[1]), Path(sys.argv[2])
    update_readme(readme_path, bench_table(json.loads(results_path.read_text()), str(results_path)))
