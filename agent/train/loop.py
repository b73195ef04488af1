"""LoRA fine-tuning of the base model on the explain examples: a plain PyTorch loop.

The prompt is rendered with the tokenizer's chat template exactly as the local backend renders it at inference
(`add_generation_prompt=True`); the completion is the compact JSON reply followed by the end-of-turn token, and
only completion tokens carry loss (prompt labels are -100). Examples longer than `max_len` are dropped, never
cut: a truncated prompt would teach claims about candidates the model cannot see.

`top_layers` adapts only the last N decoder layers. Nothing below them needs a gradient, so autograd keeps no
activations there and the backward pass stops at the lowest adapted layer. Why: on 2 AVX2 cores in fp32 a step of 4
examples took ~80 s with all 30 layers adapted (while other work shared the CPU) and 8-12 s with the last 10.
"""

from __future__ import annotations

import json
import math
import random
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from agent.train.data import Example

LORA_TARGETS = {  # modules each LoRA variant adapts; every one is servable by vLLM's LoRA support
    "attention": ["q_proj", "k_proj", "v_proj", "o_proj"],
    "all": ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
}


@dataclass
class TrainConfig:
    base: Path
    out: Path
    steps: int = 200
    batch: int = 4
    lr: float = 1e-3
    rank: int = 8
    alpha: int = 16
    dropout: float = 0.05
    seed: int = 0
    max_len: int = 1024
    warmup: int = 10
    device: str = "auto"
    dtype: str = "auto"  # agent/llm/dtype.py: bf16 only where the CPU computes it natively
    n_eval: int = 16  # validation-pair examples scored before and after training
    time_limit_s: float | None = None  # stop (and save) once training has run this long
    targets: str = "attention"  # a key of LORA_TARGETS
    top_layers: int | None = None  # adapt only the last N decoder layers (None: all); module docstring


@dataclass
class Tokenized:
    input_ids: list[int]
    labels: list[int]


@dataclass
class TrainResult:
    losses: list[float] = field(default_factory=list)
    eval_loss_before: float | None = None
    eval_loss_after: float | None = None
    seconds: float = 0.0
    dropped_too_long: int = 0
    n_train: int = 0
    steps_done: int = 0
    dtype: str = ""  # what `auto` resolved to on this machine


def chat_of(example: Example) -> list[dict[str, str]]:
    from agent.llm.local import ROLES

    return [{"role": ROLES.get(m.type, m.type), "content": m.text} for m in example.messages]


def tokenize(examples: list[Example], tokenizer, max_len: int) -> tuple[list[Tokenized], int]:
    """(tokenized examples that fit, how many were too long)."""
    end = tokenizer.eos_token  # <|im_end|>: the model must learn to stop after the JSON
    kept, dropped = [], 0
    for ex in examples:
        prompt = tokenizer.apply_chat_template(chat_of(ex), add_generation_prompt=True, tokenize=False)
        p = tokenizer(prompt, add_special_tokens=False).input_ids
        c = tokenizer(ex.completion + end, add_special_tokens=False).input_ids
        if len(p) + len(c) > max_len:
            dropped += 1
            continue
        kept.append(Tokenized(p + c, [-100] * len(p) + c))
    return kept, dropped


def batches(data: list[Tokenized], batch: int, seed: int):
    """Endless seeded batches; each pass shuffles, then groups examples of similar length so little is padding."""
    rng = random.Random(seed)
    while True:
        order = list(range(len(data)))
        rng.shuffle(order)
        chunk = batch * 16
        groups = []
        for s in range(0, len(order), chunk):
            part = sorted(order[s:s + chunk], key=lambda i: len(data[i].input_ids))
            groups += [part[k:k + batch] for k in range(0, len(part), batch)]
        rng.shuffle(groups)
        yield from ([data[i] for i in g] for g in groups)


def collate(items: list[Tokenized], pad_id: int, device: str):
    import torch

    width = max(len(t.input_ids) for t in items)
    ids = torch.full((len(items), width), pad_id, dtype=torch.long)
    labels = torch.full((len(items), width), -100, dtype=torch.long)
    mask = torch.zeros((len(items), width), dtype=torch.long)
    for r, t in enumerate(items):
        n = len(t.input_ids)
        ids[r, :n] = torch.tensor(t.input_ids)
        labels[r, :n] = torch.tensor(t.labels)
        mask[r, :n] = 1
    return ids.to(device), mask.to(device), labels.to(device)


def completion_loss(model, ids, mask, labels):
    """Mean cross-entropy over the completion tokens: the model's own causal-LM loss, with the projection onto the
    49k-token vocabulary computed only from the first position that predicts a completion token
    (`logits_to_keep`). The ~300 prompt positions need no logits; on 2 AVX2 cores that projection and its backward
    pass were a quarter of a step."""
    import torch.nn.functional as F

    first = int((labels != -100).any(dim=0).nonzero()[0])  # batches group similar lengths: the replies line up
    keep = ids.shape[1] - first + 1
    logits = model(input_ids=ids, attention_mask=mask, logits_to_keep=keep).logits
    return F.cross_entropy(logits[:, :-1].flatten(0, 1).float(), labels[:, first:].flatten(), ignore_index=-100)


def mean_loss(model, data: list[Tokenized], pad_id: int, device: str, batch: int) -> float:
    """Token-weighted completion loss over `data` (no gradient)."""
    import torch

    total, tokens = 0.0, 0
    model.eval()
    with torch.inference_mode():
        for s in range(0, len(data), batch):
            ids, mask, labels = collate(data[s:s + batch], pad_id, device)
            n = int((labels[:, 1:] != -100).sum())
            total += float(completion_loss(model, ids, mask, labels)) * n
            tokens += n
    model.train()
    return total / max(tokens, 1)


def train(config: TrainConfig, train_examples: list[Example], eval_examples: list[Example],
          progress: bool = True) -> TrainResult:
    """Train a LoRA adapter on `train_examples` and save it (peft format) to `config.out`."""
    import torch
    from peft import LoraConfig, get_peft_model
    from tqdm import tqdm
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from agent.llm.dtype import choose_dtype
    from agent.llm.local import resolve_device

    torch.manual_seed(config.seed)
    random.seed(config.seed)
    device = resolve_device(config.device)
    dtype = choose_dtype(config.dtype, device)
    tokenizer = AutoTokenizer.from_pretrained(config.base)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    model = AutoModelForCausalLM.from_pretrained(config.base, dtype=getattr(torch, dtype)).to(device)
    n_layers = model.config.num_hidden_layers
    layers = list(range(n_layers - config.top_layers, n_layers)) if config.top_layers else None
    model = get_peft_model(model, LoraConfig(r=config.rank, lora_alpha=config.alpha, lora_dropout=config.dropout,
                                             target_modules=LORA_TARGETS[config.targets], layers_to_transform=layers,
                                             task_type="CAUSAL_LM"))
    result = TrainResult(dtype=dtype)
    data, result.dropped_too_long = tokenize(train_examples, tokenizer, config.max_len)
    evals, _ = tokenize(eval_examples[: config.n_eval], tokenizer, config.max_len)
    if not data:
        raise ValueError(f"no training example fits max_len={config.max_len}")
    result.n_train = len(data)

    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=config.lr, weight_decay=0.0)

    def lr_at(step: int) -> float:
        """Linear warm-up, then cosine decay to 10 % over the run: its steps, or its time limit when that comes
        first, so a run stopped by the clock still ends on a small learning rate."""
        if step < config.warmup:
            return (step + 1) / config.warmup
        t = (step - config.warmup) / max(1, config.steps - config.warmup)
        if config.time_limit_s:
            t = max(t, (time.perf_counter() - start) / config.time_limit_s)
        return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(t, 1.0)))

    if evals:
        result.eval_loss_before = mean_loss(model, evals, pad_id, device, config.batch)
    start = time.perf_counter()
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_at)
    model.train()
    stream = batches(data, config.batch, config.seed)
    bar = tqdm(range(config.steps), desc="train", disable=not progress, mininterval=2)
    for _ in bar:
        ids, mask, labels = collate(next(stream), pad_id, device)
        loss = completion_loss(model, ids, mask, labels)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        result.losses.append(round(loss.item(), 5))
        bar.set_postfix(loss=f"{result.losses[-1]:.4f}", width=ids.shape[1])
        if config.time_limit_s and time.perf_counter() - start > config.time_limit_s:
            break  # the schedule was planned for config.steps; steps_done says where it stopped
    result.steps_done = len(result.losses)
    result.seconds = round(time.perf_counter() - start, 1)
    if evals:
        result.eval_loss_after = mean_loss(model, evals, pad_id, device, config.batch)

    config.out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(config.out)
    # the adapter records where its base came from; a machine-local absolute path would mean nothing elsewhere
    adapter_config = config.out / "adapter_config.json"
    cfg = json.loads(adapter_config.read_text())
    cfg["base_model_name_or_path"] = Path(config.base).name
    adapter_config.write_text(json.dumps(cfg, indent=2) + "\n")
    (config.out / "README.md").unlink(missing_ok=True)  # peft's empty model-card template; train_config.json says it all
    return result


def config_record(config: TrainConfig) -> dict:
    record = asdict(config)
    record["base"] = Path(config.base).name
    record["out"] = str(config.out)
    record["lora_targets"] = LORA_TARGETS[config.targets]
    return record
