"""Shared by the index, retrieval and Chroma-server tests: real data folders and settings pointing at a temp home."""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

from agent.settings import Settings

DATA_DIR = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
GIFT_CARDS = "amazon2018_gift_cards"


def steam_subset(root: Path, n_lines: int) -> Path:
    """A data dir whose `steam` folder holds the first `n_lines` of the real games file and the real bundles file
    (full Steam takes minutes to embed on 2 cores; the subset keeps every field and quirk of the real rows)."""
    folder = root / "steam"
    folder.mkdir(parents=True, exist_ok=True)
    with gzip.open(DATA_DIR / "steam" / "steam_games.json.gz", "rt") as src, \
            gzip.open(folder / "steam_games.json.gz", "wt") as dst:
        for n, line in enumerate(src):
            if n >= n_lines:
                break
            dst.write(line)
    shutil.copyfile(DATA_DIR / "steam" / "bundle_data.json.gz", folder / "bundle_data.json.gz")
    return root


def read_jsonl_gz(path: Path) -> list[dict]:
    with gzip.open(path, "rt") as f:
        return [json.loads(line) for line in f]


def settings_for(home: Path, data_dir: Path = DATA_DIR, chroma_url: str | None = None, **kw) -> Settings:
    return Settings(home=home, data_dir=data_dir, chroma_url=chroma_url, **kw)


def answer_turn(settings: Settings, message: str, user_id: str | None):
    """(the service, its answer) for one chat turn through the service's chain with these settings: explain off and
    a fake LLM, so no weights load and no decoding runs."""
    from langchain_core.language_models.fake_chat_models import FakeListChatModel

    from agent.conversation import Conversation
    from agent.service import Whyrec

    whyrec = Whyrec(settings, llm=FakeListChatModel(responses=["{}"]))
    answer = whyrec.chain.invoke({"message": message, "user_id": user_id, "conversation": Conversation(user_id=user_id),
                                  "explain": False})
    return whyrec, answer
