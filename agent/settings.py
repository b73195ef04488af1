"""Every knob in one typed place. Set by environment (`WHYREC_*`), a `.env` file, or CLI flags — never code edits."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from agent.llm.dtype import DtypeSetting

PROJECT_ROOT = Path(__file__).resolve().parent.parent


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


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="WHYREC_", env_file=".env", extra="ignore")

    # data and index
    data_dir: Path = Field(PROJECT_ROOT.parent / "shared" / "data", description="folder holding one folder per dataset")
    dataset: str = Field("amazon2018_gift_cards", description="dataset folder name under data_dir")
    home: Path = Field(PROJECT_ROOT / ".whyrec", description="local state: chroma db, converted model, runs, logs")
    chroma_url: str | None = Field(None, description="http://127.0.0.1:PORT of a `chroma run` server; None = embedded")
    embed_batch: int = Field(64, description="MiniLM encode batch size (64-128 is fastest on 2 cores)")
    retrieval: Literal["memory", "chroma"] = Field(
        "memory", description="memory = exact search over an in-memory snapshot of the Chroma collection, loaded once "
                              "per process; chroma = every query goes to Chroma's HNSW index")
    snapshot_check_s: float = Field(5.0, description="memory retrieval asks Chroma whether the index changed (and "
                                                     "reloads if so) at most this often, in seconds")

    # LLM
    backend: Literal["local", "openai"] = Field("local", description="local = in-process transformers; openai = any OpenAI-compatible server")
    model_dir: Path | None = Field(None, description="local base model dir; default: the SmolLM2 converted at setup")
    adapter: Path | None = Field(None, description="peft LoRA adapter dir for the local backend")
    openai_base_url: str = Field("http://127.0.0.1:8000/v1", description="OpenAI-compatible endpoint (vLLM)")
    openai_api_key: str = Field("EMPTY", description="API key for the server (vLLM --api-key)", repr=False)
    openai_model: str = Field("whyrec", description="model name on the server; may be a LoRA module name")
    request_timeout_s: float = Field(60.0, description="per LLM call")
    max_new_tokens: int = Field(320, description="cap on generated tokens per explanation call")
    device: str = Field("auto", description="auto | cpu | cuda")
    dtype: DtypeSetting = Field(
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
    def chroma_path(self) -> Path:
        return self.home / "chroma"

    @property
    def default_model_dir(self) -> Path:
        return self.home / "models" / "SmolLM2-135M-Instruct"

    @property
    def base_model_dir(self) -> Path:
        return self.model_dir or self.default_model_dir

    @property
    def dataset_dir(self) -> Path:
        return self.data_dir / self.dataset
