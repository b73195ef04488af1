"""An experiment grid: explanation templates × backends/adapters × datasets, read from a strict YAML file
(eval/grids/*.yaml). Each explanation cell generates one reason per held-out (user, item) pair; each
(dataset, backend) also gets one ranking cell: the baselines, whyrec's ranker, and — with a rank template — the LLM
preference signal, all on the same pairs."""

from __future__ import annotations

import difflib
from itertools import product
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from prompts.loader import load_strict_yaml

DEFAULT_MESSAGE = "Recommend something for me based on my past purchases."


class BackendSpec(BaseModel):
    """One LLM configuration; fields left out keep the value from Settings (WHYREC_* / .env)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="short label used in tables and file names")
    backend: Literal["local", "openai"] = "local"
    model_dir: Path | None = Field(None, description="local base model dir (default: the converted SmolLM2)")
    adapter: Path | None = Field(None, description="peft LoRA adapter dir (local backend), relative to the repo; "
                                                   "none = the base model, even if WHYREC_ADAPTER is set")
    base_url: str | None = Field(None, description="OpenAI-compatible endpoint, e.g. a vLLM server")
    model: str | None = Field(None, description="server model name; with vLLM a LoRA module name")
    dtype: Literal["auto", "float32", "bfloat16", "float16"] | None = Field(None, description="local model dtype")
    quantize: Literal["auto", "none", "int8"] | None = Field(None, description="int8: dynamic int8 Linear layers "
                                                                             "(local, CPU); none: the plain dtype")
    speculate: int | None = Field(None, ge=0, description="guessed tokens per row and step (local); 0 = off")
    attention: Literal["auto", "sdpa"] | None = Field(None, description="local decode-step attention (Settings)")
    copy_guard: bool | None = Field(None, description="local: keep copied values whole (Settings.copy_guard)")

    def settings_overrides(self) -> dict:
        overrides = {"backend": self.backend, "model_dir": self.model_dir, "openai_base_url": self.base_url,
                     "openai_model": self.model, "dtype": self.dtype, "quantize": self.quantize,
                     "speculate": self.speculate, "attention": self.attention, "copy_guard": self.copy_guard}
        return {k: v for k, v in overrides.items() if v is not None} | {"adapter": self.adapter}


class Grid(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    description: str = ""
    datasets: list[str] = Field(min_length=1)
    templates: list[str] = Field(min_length=1, description="explanation template ids (prompts/explain_*.yaml)")
    backends: list[BackendSpec] = Field(min_length=1)
    rank_template: str | None = Field(None, description="LLM ordering template; None = no LLM ranking signal")
    target: Literal["test", "validation"] = "test"
    seed: int = Field(0, description="split tie-breaks and negative sampling")
    limit: int | None = Field(None, description="first N held-out users (sorted by id); None = all")
    limits: dict[str, int] = Field(default_factory=dict, description="a dataset's own limit (first N held-out users), "
                                                                     "where all of them would take too long")
    negatives: int = Field(19, description="sampled negatives per positive in the sampled protocol")
    message: str = Field(DEFAULT_MESSAGE, description="the shopper message of every evaluated turn; it never "
                                                       "contains the held-out review (that would leak)")
    requests: Literal["message", "item"] = Field(
        "message", description="message: every turn asks `message`; item: each held-out pair asks for 1-2 of its "
                               "own item's values, as a shopper would ('a horror co-op game under $20', "
                               "agent/train/data.py request_for), to measure whether reasons say what was asked. "
                               "Explain only: such a request would leak the answer to the ranking task")
    rank_max_attributes: int = Field(4, description="attributes per candidate shown to the LLM ranking step")
    batch_size: int = Field(8, ge=1, description="held-out pairs whose LLM calls go out as one batch; part of the "
                                                  "result, as batching may flip a near-tie in bf16")
    tasks: list[Literal["explain", "ranking"]] = Field(default_factory=lambda: ["explain", "ranking"])
    peers: list[str] = Field(default_factory=list, description="eval/peers.py recommenders ranked beside whyrec in "
                                                              "every ranking cell, each tuned on validation")
    item_universe: Literal["catalogue", "interacted"] = Field(
        "catalogue", description="ranking candidates: every catalogue item, or only items with at least one "
                                 "interaction in the dataset (the usual item set of Steam recommender papers)")

    @model_validator(mode="after")
    def _known_templates(self) -> Grid:
        from prompts.loader import all_templates

        templates = all_templates()
        for tid, kind in [(t, "explain") for t in self.templates] + [(self.rank_template, "rank")]:
            if tid is None:
                continue
            if tid not in templates:
                close = difflib.get_close_matches(tid, templates, n=3)
                raise ValueError(f"unknown template {tid!r}" + (f"; did you mean {', '.join(close)}?" if close else ""))
            if templates[tid].kind != kind:
                raise ValueError(f"template {tid!r} is a {templates[tid].kind} template, expected {kind}")
        if unknown := sorted(set(self.limits) - set(self.datasets)):
            raise ValueError(f"limits name datasets the grid does not run: {unknown}")
        if self.requests == "item" and "ranking" in self.tasks:
            raise ValueError("requests: item builds each request from the held-out item: explain tasks only")
        names = [b.name for b in self.backends]
        if len(set(names)) != len(names):
            raise ValueError(f"backend names must be unique: {names}")
        return self

    def explain_cells(self) -> list[tuple[str, BackendSpec, str]]:
        if "explain" not in self.tasks:
            return []
        return list(product(self.datasets, self.backends, self.templates))

    def ranking_cells(self) -> list[tuple[str, BackendSpec]]:
        if "ranking" not in self.tasks:
            return []
        backends = self.backends if self.rank_template else self.backends[:1]  # no LLM signal: one cell is enough
        return list(product(self.datasets, backends))


def load_grid(path: Path) -> Grid:
    return load_strict_yaml(path, Grid, "grid")
