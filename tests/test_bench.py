"""`whyrec bench`: the registry, and a real quick run (3k Steam items, real MiniLM, real Chroma in a temp dir)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from agent.cli import main as cli
from eval.bench import BENCHMARKS

pytestmark = pytest.mark.fast  # no model decode, no index build


def test_unknown_benchmark_is_a_clear_error():
    result = CliRunner().invoke(cli, ["bench", "--only", "index,retreival"])
    assert result.exit_code == 2 and "retreival" in result.stderr and "retrieval" in result.stderr


def test_registry_names_index_and_retrieval():
    assert {"index", "retrieval"} <= set(BENCHMARKS)
    assert all(b.description for b in BENCHMARKS.values())


@pytest.mark.slow
def test_quick_bench_writes_figures_and_leaves_the_users_index_alone(tmp_path):
    out = tmp_path / "bench.json"
    # 600 items: the figures' plumbing, not their values (--quick's 3,000 cost CI ~2 minutes of encoding)
    result = CliRunner().invoke(cli, ["bench", "--quick", "--items", "600", "--json", "--only", "index,retrieval",
                                      "--out", str(out)], env={"WHYREC_HOME": str(tmp_path / "home")})
    assert result.exit_code == 0, result.output
    results = json.loads(out.read_text())
    assert json.loads(result.stdout) == results
    index, retrieval = results["benchmarks"]["index"], results["benchmarks"]["retrieval"]
    assert index["items"] == index["encoded"] == results["sample_items"] == 600
    assert index["build_items_per_s"] > 0 and index["encode_items_per_s"] > 0 and 0 < index["build_over_encode"]
    assert retrieval["items"] == 600 and retrieval["queries"] >= 100 and retrieval["p50_ms"] > 0
    machine = results["machine"]
    assert results["peak_rss_mib"] > 0 and machine["cores"] >= 1 and machine["git_commit"]
    assert machine["cpu"] and machine["cpu_capability"] and machine["dtype"] in ("float32", "bfloat16")
    assert not (tmp_path / "home" / "chroma").exists()  # the benchmark's Chroma lived in a temp dir


@pytest.mark.slow
def test_turn_and_decode_figures_and_the_readme_table(tmp_path):
    from eval.figures import BEGIN, END, update_readme

    out, readme = tmp_path / "bench.json", tmp_path / "README.md"
    readme.write_text(f"# Figures\n{BEGIN}\nold numbers\n{END}\nafter\n")
    # one timed turn (after the warm-up) and its follow-up: the figures' plumbing, not their values (the bench's
    # own default is 4 turns with --quick); each turn here decodes 5 prompts on the real model, ~10-20 s on 2 cores
    result = CliRunner().invoke(cli, ["bench", "--quick", "--turns", "1", "--only", "turn,decode,speculation,abandon,prefetch,guard",
                                      "--out", str(out), "--readme", str(readme)])
    assert result.exit_code == 0, result.output
    results = json.loads(out.read_text())
    turn, decode = (results["benchmarks"][n] for n in ("turn", "decode"))
    assert results["turns"] == 1 and turn["turns"] == 1  # the turns asked for: one first turn, with its follow-up
    assert turn["k"] == 5 and 0 < turn["first_token_p50_s"] < turn["turn_p50_s"] <= turn["turn_p95_s"]
    assert 0 < turn["first_card_p50_s"] < turn["first_token_p50_s"]  # the checked cards come before the LLM writes
    # the grammar-forced opening streams before the first token the model chooses, which comes before the end
    assert turn["first_token_p50_s"] < turn["first_chosen_token_p50_s"] < turn["turn_p50_s"]
    assert turn["follow_up_message"] == "cheaper" and turn["follow_up_p50_s"] > 0
    assert turn["follow_up_over_first"] == round(turn["follow_up_p50_s"] / turn["turn_p50_s"], 3)
    assert decode["prompts_per_batch"] == 5 and decode["raw_generate_tokens_per_s"] > 0
    assert 0 < decode["chain_chosen_tokens_per_s"] <= decode["chain_tokens_per_s"]
    assert decode["forward_ms_batch1"] > 0 and decode["forward_ms_batch5"] > 0
    guessing = results["benchmarks"]["speculation"]  # the same turn with and without guessed tokens
    assert guessing["turns"] == 1 and guessing["cards"] == 5 and 0 <= guessing["cards_whose_reasons_differ"] <= 5
    assert guessing["guessed_tokens"] > 0 and 0 <= guessing["guessed_kept_share"] <= 1
    assert guessing["speculating_over_plain"] == round(guessing["turn_speculating_p50_s"] / guessing["turn_plain_p50_s"], 3)
    cut = results["benchmarks"]["abandon"]  # the same turn and follow-up, replies written whole and abandoned
    assert cut["turns"] == 1 and cut["cards"] > 5 and 0 <= cut["cards_whose_fallback_differs"] <= cut["cards"]
    assert cut["tokens_abandoning"] <= cut["tokens_whole"] and cut["replies_abandoned"] >= 0
    assert cut["abandoning_over_whole_turn"] == round(cut["turn_abandoning_p50_s"] / cut["turn_whole_p50_s"], 3)
    assert turn["abandoned_per_turn"] >= 0
    ahead = results["benchmarks"]["prefetch"]  # the same follow-up decoded while the shopper read, or not
    assert ahead["turns"] == 1 and ahead["cards"] >= 1 and ahead["replies"] > 0
    # all of the follow-up's replies come from the prefetch, unless it had not finished when it was sent
    assert ahead["replies_reused"] == ahead["replies"] or ahead["prefetches_unfinished_after_reading"] == 1
    assert ahead["cards_whose_reasons_differ"] == 0  # the same prompts and batch: the same replies
    assert ahead["follow_up_after_reading_over_first"] == round(ahead["follow_up_after_reading_p50_s"]
                                                                / ahead["first_p50_s"], 3)
    guard = results["benchmarks"]["guard"]  # the same turn with and without the copy guard
    assert guard["turns"] == 1 and guard["cards"] == 5 and 0 <= guard["cards_whose_reasons_differ"] <= 5
    assert guard["guarded_over_unguarded"] == round(guard["turn_guarded_p50_s"] / guard["turn_unguarded_p50_s"], 3)
    assert guard["tokens_guarded"] >= 0 and 0 <= guard["model_written_guarded"] <= 1
    text = readme.read_text()
    assert "old numbers" not in text and text.endswith(f"{END}\nafter\n")
    assert f"| chat turn k=5 with reasons, embedded default, p50 / p95 | {turn['turn_p50_s']} / {turn['turn_p95_s']} s" in text
    assert f"{guessing['turn_speculating_p50_s']} vs {guessing['turn_plain_p50_s']} s" in text
    assert f"{guard['turn_guarded_p50_s']} vs {guard['turn_unguarded_p50_s']} s" in text
    with pytest.raises(ValueError):
        update_readme(tmp_path / "bench.json", "x")  # no block to fill: a clear error, nothing written


@pytest.mark.slow
def test_the_adapter_row_times_the_same_turns_with_and_without_an_adapter(tmp_path):
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from agent.settings import Settings

    # a LoRA whose B weights are zero (peft's default): the same replies as the base model, through the adapter path
    folder = tmp_path / "lora"
    base = AutoModelForCausalLM.from_pretrained(Settings().base_model_dir, dtype=torch.bfloat16)
    get_peft_model(base, LoraConfig(r=4, target_modules=["q_proj", "v_proj"], task_type="CAUSAL_LM")).save_pretrained(folder)
    out = tmp_path / "bench.json"
    result = CliRunner().invoke(cli, ["bench", "--quick", "--turns", "1", "--only", "adapter", "--out", str(out)],
                                env={"WHYREC_ADAPTER": str(folder)})
    assert result.exit_code == 0, result.output
    row = json.loads(out.read_text())["benchmarks"]["adapter"]
    assert row["adapter"] == str(folder) and row["turns"] == 1 and row["cards"] == 5
    assert row["adapter_over_base"] == round(row["turn_adapter_p50_s"] / row["turn_base_p50_s"], 3)
    assert row["model_written_adapter"] == row["model_written_base"]  # a zero LoRA changes no reply
    assert row["cards_saying_asked_per_answer_adapter"] == row["cards_saying_asked_per_answer_base"]
    assert [len(answer) for answer in row["samples"]["adapter"]] == [1 + 5]  # the message, then each card's reason

