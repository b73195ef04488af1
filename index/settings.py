"""The index layer's own knobs: where the data and the Chroma store live and how retrieval reads them. The agent's
Settings extend these (same `WHYREC_*` variables), so index/ never imports agent/."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class IndexSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="WHYREC_", env_file=".env", extra="ignore")

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

    @property
    def chroma_path(self) -> Path:
        return self.home / "chroma"

    @property
    def dataset_dir(self) -> Path:
        return self.data_dir / self.dataset
