"""Shared by the index, retrieval and Chroma-server tests: real data folders and settings pointing at a temp home."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import tempfile
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


def subprocess_env(settings: Settings) -> dict[str, str]:
    """The environment a `whyrec` subprocess needs to see the same home, data and model as `settings`."""
    return {**os.environ, "WHYREC_HOME": str(settings.home), "WHYREC_DATA_DIR": str(settings.data_dir),
            "WHYREC_MODEL_DIR": str(settings.base_model_dir)}


# the tests' Steam sample (tests/conftest.py `indexed`) ------------------------------------------------------

STEAM = "steam"
# games a test names, kept in the sample whatever the seed draws: Terraria (test_ask, test_dialogues "like Terraria")
# and every game of test_ui_browser's Steam shopper 091263 (read from the raw reviews file when the sample is made)
STEAM_NAMED_GAMES = ("105600",)
STEAM_NAMED_SHOPPERS = ("091263",)


def steam_sample_wanted() -> bool:
    return os.environ.get("WHYREC_TEST_STEAM", "sample").strip().lower() != "full"


def _write_if_changed(path: Path, data: bytes) -> None:
    if path.exists() and path.read_bytes() == data:
        return  # same bytes, same fingerprint: a warm index stays warm
    with tempfile.NamedTemporaryFile(dir=path.parent, delete=False) as tmp:
        tmp.write(data)
    os.replace(tmp.name, path)


def make_steam_sample(source: Path, target: Path) -> Path:
    """`target/steam/`: the raw game lines of the bench's quick sample plus the named games (and the raw lines with
    no id, so the loader's skips still run), the review and bundle files copied whole. Returns `target`."""
    import ast
    import csv
    import io

    from eval.bench_registry import QUICK_ITEMS, BenchContext
    from index.loaders.reading import file_sha256
    from index.loaders.steam import _steam_id

    folder = target / STEAM
    recipe = json.dumps({"sources": {p.name: file_sha256(p) for p in sorted((source / STEAM).iterdir())},
                         "quick_items": QUICK_ITEMS, "games": STEAM_NAMED_GAMES, "shoppers": STEAM_NAMED_SHOPPERS,
                         "format": 1}, sort_keys=True)
    stamp = target / "steam-sample.json"  # beside the folder, not in it: the loader reads the folder
    made = stamp.exists() and stamp.read_text() == recipe
    if made and all((folder / p.name).exists() for p in (source / STEAM).iterdir()):
        return target  # made from these very files already (loading all of Steam to sample it takes ~15-30 s)
    sample = BenchContext(settings=Settings(data_dir=source), quick=True, home=target).catalogue[0]
    keep = {item.item_id for item in sample.items} | set(STEAM_NAMED_GAMES)
    with gzip.open(source / STEAM / "user_reviews_flat.csv.gz", "rt", encoding="utf-8") as f:
        keep |= {row["item_id"] for row in csv.DictReader(f) if row["user_id"] in STEAM_NAMED_SHOPPERS}
    folder.mkdir(parents=True, exist_ok=True)
    lines = io.StringIO()
    with gzip.open(source / STEAM / "steam_games.json.gz", "rt", encoding="utf-8") as f:
        for line in f:
            game_id = _steam_id(ast.literal_eval(line).get("id"))
            if game_id is None or game_id in keep:
                lines.write(line)
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as gz:  # mtime 0: the same sample is the same bytes
        gz.write(lines.getvalue().encode("utf-8"))
    _write_if_changed(folder / "steam_games.json.gz", buffer.getvalue())
    for other in sorted((source / STEAM).iterdir()):
        if other.name != "steam_games.json.gz":
            _write_if_changed(folder / other.name, other.read_bytes())
    stamp.write_text(recipe)
    return target


def steam_sample_settings() -> Settings:
    """Settings of the sample's own home and data folder (made if missing); the model is the default home's."""
    default = Settings()
    home = default.home / "test-steam"
    data_dir = make_steam_sample(default.data_dir, home / "data")
    for name in sorted(p.name for p in default.data_dir.iterdir() if p.is_dir() and p.name != STEAM):
        link = data_dir / name  # the other datasets, whole, so this home can index them beside the sample
        if not link.exists():
            link.symlink_to(default.data_dir / name, target_is_directory=True)
    return Settings(home=home, data_dir=data_dir, model_dir=default.base_model_dir)
