"""`whyrec train`: LoRA-tune the base model to explain in the chain's own format, from real reviews."""

from __future__ import annotations

from pathlib import Path

import click

from agent.settings import ADAPTERS


@click.command("train")
@click.option("--base", type=click.Path(path_type=Path), default=None,
              help="Base model dir (default: the SmolLM2 converted by `whyrec setup`).")
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="Where the adapter and train_config.json go (default: a new agent/adapters/whyrec-<UTC time>).")
@click.option("--replace", is_flag=True, help="Allow --out to be an existing adapter folder (it is overwritten).")
@click.option("--data-dir", type=click.Path(path_type=Path), default=None, help="Folder of datasets (default ../shared/data).")
@click.option("--steps", type=int, default=200, show_default=True, help="Optimizer steps.")
@click.option("--batch", type=int, default=4, show_default=True)
@click.option("--lr", type=float, default=1e-3, show_default=True, help="Peak learning rate (warm-up, cosine decay).")
@click.option("--rank", type=click.Choice(["8", "16", "32", "64"]), default="8", show_default=True,
              help="LoRA rank (values vLLM's --max-lora-rank accepts).")
@click.option("--targets", type=click.Choice(["attention", "all"]), default="attention", show_default=True,
              help="Modules LoRA adapts: attention (q/k/v/o) or all (+ the MLP's gate/up/down).")
@click.option("--top-layers", type=int, default=None,
              help="Adapt only the last N decoder layers (a faster step on a CPU); default: all.")
@click.option("--template", "template_ids", multiple=True,
              help="Explain template(s) the examples are rendered with, one per example by a seeded hash "
                   "(repeatable, a template named twice gets twice the share; default: the settings' template).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seeds data sampling, shuffling and init.")
@click.option("--max-len", type=int, default=512, show_default=True,
              help="Longest prompt+reply in tokens; longer examples are dropped, never truncated.")
@click.option("--max-history", type=int, default=8, show_default=True, help="History items per example (up to).")
@click.option("--n-catalogue", type=int, default=300, show_default=True,
              help="Examples each from the H&PC and Steam catalogues (0: Gift Cards only).")
@click.option("--steam-users", type=int, default=400, show_default=True,
              help="Steam users whose held-in games give examples (0: none).")
@click.option("--per-user", type=int, default=3, show_default=True, help="Latest held-in games per Steam user.")
@click.option("--limit", type=int, default=None, help="Train on the first N examples only (a quick slice).")
@click.option("--time-limit", type=float, default=None, help="Stop training after this many seconds (and save).")
@click.option("--device", default="auto", show_default=True, help="auto | cpu | cuda")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def command(base, out, replace, data_dir, steps, batch, lr, rank, targets, top_layers, template_ids, seed, max_len,
            max_history, n_catalogue, steam_users, per_user, limit, time_limit, device, quiet) -> None:
    """Build training examples from real Gift Cards and Steam users' reviews (held-out test and validation pairs
    excluded) and the H&PC and Steam catalogues, train a LoRA adapter (q/k/v/o, or every Linear) with loss on the
    reply only, and save it
    with train_config.json (data hash, split hash, seed, steps, loss curve).

    \b
    Example:
      whyrec train --steps 700 --batch 4 --rank 16 --targets all --top-layers 10 --time-limit 2700 \
        --out agent/adapters/whyrec-reasons --replace
      WHYREC_ADAPTER=agent/adapters/whyrec-reasons whyrec ask "a gift card under $50"
    """
    import json
    import platform
    import time

    import torch

    from agent.llm.dtype import cpu_info
    from agent.settings import Settings
    from agent.train.data import Shape, build_examples
    from agent.train.loop import TrainConfig, config_record, train
    from prompts.loader import get_template

    if out is None:
        out = ADAPTERS / f"whyrec-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}"
    if (out / "adapter_config.json").exists() and not replace:
        raise click.UsageError(f"{out} holds an adapter already; pass --replace to overwrite it, or another --out")
    settings = Settings(**({"data_dir": data_dir} if data_dir else {}))
    templates = [get_template(t) for t in template_ids or [settings.template]]
    shape = Shape(max_history=max_history, max_attributes=settings.max_attributes)
    click.echo("building examples …")
    built, splits = build_examples(settings.data_dir, templates, seed=seed, shape=shape, n_catalogue=n_catalogue,
                                   steam_users=steam_users, per_user=per_user)
    examples = built.examples[:limit] if limit else built.examples
    click.echo(f"{len(examples)} examples (data hash {built.data_hash[:12]}); {dict(built.counts)}")
    config = TrainConfig(base=base or settings.base_model_dir, out=out, steps=steps, batch=batch, lr=lr,
                         rank=int(rank), alpha=2 * int(rank), targets=targets, top_layers=top_layers, seed=seed,
                         max_len=max_len, device=device,
                         dtype=settings.dtype, time_limit_s=time_limit)
    result = train(config, examples, built.validation, progress=not quiet)
    record = {
        "config": config_record(config),
        "templates": [{"id": t.id, "version": t.version} for t in templates],
        "data": {"hash": built.data_hash, "examples": len(examples), "trained_on": result.n_train,
                 "dropped_too_long": result.dropped_too_long, "limit": limit, "counts": dict(built.counts),
                 "shape": vars(shape), "n_catalogue": n_catalogue, "steam_users": steam_users, "per_user": per_user},
        "splits": [{"dataset": split.dataset, "seed": split.seed, "sha256": split.sha256,
                    "excluded": "test and validation pairs (index.split.held_out_pairs)"} for split in splits],
        "steps_done": result.steps_done,
        "train_seconds": result.seconds,
        "seconds_per_step": round(result.seconds / max(1, result.steps_done), 2),
        "torch_threads": torch.get_num_threads(),
        "machine": platform.machine(),
        "cpu": cpu_info().model,
        "cpu_capability": cpu_info().capability,  # 'avx512+avx512_bf16', 'avx2': what decided the dtype
        "dtype": result.dtype,
        "eval_loss_validation_pairs": {"before": result.eval_loss_before, "after": result.eval_loss_after,
                                       "n": min(config.n_eval, len(built.validation))},
        "losses": result.losses,
    }
    (out / "train_config.json").write_text(json.dumps(record, indent=1) + "\n")
    first, last = result.losses[:5], result.losses[-5:]
    click.echo(f"{result.steps_done} steps in {result.seconds:.0f} s; loss {sum(first) / len(first):.3f} (first 5) -> "
               f"{sum(last) / len(last):.3f} (last 5); validation loss {result.eval_loss_before} -> "
               f"{result.eval_loss_after}; saved {out}")
