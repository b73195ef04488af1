"""Every knob in one typed place. Set by environment (`WHYREC_*`), a `.env` file, or CLI flags — never code edits."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from index.settings import PROJECT_ROOT as PROJECT_ROOT  # re-exported: the checkout root
from index.settings import IndexSettings

ADAPTERS = PROJECT_ROOT / "agent" / "adapters"  # where `whyrec train` writes LoRA adapters
REASONS_ADAPTER = ADAPTERS / "whyrec-reasons"  # the reasons adapter (README, "Faithfulness")


class RankWeights(BaseSettings):
    """Weights of the score fusion in `agent/rank.py` (each signal is min-max normalised over the candidates)."""

    model_config = SettingsConfigDict(env_prefix="WHYREC_RANK_", extra="ignore")

    request: float = Field(1.0, description="cosine similarity of the item to the request text")
    history: float = Field(0.5, description="max cosine similarity of the item to the user's liked history items")
    cooccurrence: float = Field(0.3, description="co-occurrence with history items in interactions/bundles")
    popularity: float = Field(0.1, description="log interaction count (or sentiment/rating count)")
    llm: float = Field(0.5, description="LLM preference (reciprocal rank of its ordering), when the backend gives one")
    collab: float = Field(0.0, description="EASE collaborative score from the user's past items (index/collab.py, "
                                           "trained at index time); 0 = off")


class Settings(IndexSettings):
    """Everything the agent needs: the index layer's settings plus the LLM, chain and ranking knobs."""

    model_config = SettingsConfigDict(env_prefix="WHYREC_", env_file=".env", extra="ignore")

    # LLM
    backend: Literal["local", "openai"] = Field("local", description="local = in-process transformers; openai = any OpenAI-compatible server")
    model_dir: Path | None = Field(None, description="local base model dir; default: the SmolLM2 converted at setup")
    adapter: Path | None = Field(None, description="peft LoRA adapter dir for the local backend")
    openai_base_url: str = Field("http://127.0.0.1:8000/v1", description="OpenAI-compatible endpoint (vLLM)")
    openai_api_key: str = Field("EMPTY", description="API key for the server (vLLM --api-key)", repr=False)
    openai_model: str = Field("whyrec", description="model name on the server; may be a LoRA module name")
    request_timeout_s: float = Field(60.0, description="per LLM call")
    max_new_tokens: int = Field(320, description="cap on generated tokens per explanation call")
    speculate: int = Field(4, ge=0, description="local backend: guessed tokens per row and decode step, copied from "
                                                "where the row's last tokens occurred before, kept only where the "
                                                "model's own greedy choice agrees: fewer passes, the same text but for "
                                                "rounding near-ties (eval/grids/speculate.yaml, README); 0 = off")
    abandon_doomed: bool = Field(True, description="local backend: stop writing a reason once its sentence fails a "
                                 "check no continuation can pass (a loop, an echoed handle, a year the data lacks; "
                                 "agent/explain.DoomedReply): the card falls back as it would have, with the model's "
                                 "claims, and the turn ends sooner. Grid runs keep it off to measure whole replies")
    copy_guard: bool = Field(True, description="local backend: once a reason's sentence says a lead-in ('is tagged', "
                             "'shares its tag Dark with'), keep the value after it one the item (or a liked past "
                             "item) really has, letter for letter, by taking the model's best token that does "
                             "(agent/copy_guard.py); off = the model's greedy text as it is")
    prefetch: list[str] = Field(["cheaper"], description="local backend, chat: follow-ups decoded while the shopper "
                                "reads an answer (the chat offers 'cheaper' on every catalogue); sent as is, the "
                                "turn reuses those replies. Any turn stops a running prefetch at its next decode "
                                "step (agent/llm/prefetch.py). JSON list in the environment; [] = off")
    attention: Literal["auto", "sdpa"] = Field(
        "auto", description="local backend: auto = on a CPU, decode steps (a few tokens a row) attend with two "
                            "matmuls instead of SDPA (agent/llm/attention.py), prefill keeps SDPA; sdpa = SDPA "
                            "throughout")
    device: str = Field("auto", description="auto | cpu | cuda")
    quantize: Literal["auto", "none", "int8"] = Field(
        "none", description="int8 = dynamic int8 quantisation of the local model's Linear layers on a CPU (weights "
                            "int8, activations quantised per call; 2.5-3.5x faster decode steps, but on the "
                            "cached-history grid it changed 29 of 30 raw replies, with more loops); none = the dtype "
                            "as chosen; auto = int8 where the model runs in fp32 on the CPU")
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = Field(
        "auto", description="auto = bf16 only where the CPU computes it natively (AVX512_BF16/AMX) or on a GPU, fp32 "
                            "on other CPUs (bf16 is emulated there, ~5x slower prefill); inference and training")

    # chain
    template: str = Field("explain_default", description="prompt template id under prompts/")
    rank_template: str | None = Field(None, description="optional ranking template id: the LLM preference signal")
    k: int = Field(5, description="recommendations per answer")
    n_candidates: int = Field(50, description="items retrieved before ranking")
    n_explain_candidates: int = Field(20, description="top ranked items shown to the LLM ranking step")
    max_history: int = Field(8, description="history items shown to the LLM (most relevant first)")
    max_attributes: int = Field(12, description="attribute handles per candidate in the prompt")
    max_message_chars: int = Field(2000, description="longer messages are truncated with a note")
    rank: RankWeights = Field(default_factory=RankWeights)

    @property
    def default_model_dir(self) -> Path:
        return self.home / "models" / "SmolLM2-135M-Instruct"

    @property
    def base_model_dir(self) -> Path:
        return self.model_dir or self.default_model_dir
