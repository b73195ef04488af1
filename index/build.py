"""Build (or bring up to date) a dataset's Chroma index: load → diff by content hash → encode only what changed →
upsert in chunks keyed by stable ids → record the snapshot id.

Idempotent: every row carries a `content_hash` of what it is made of (text, metadata, embedding model; for history
rows also their item's hash), so a second run finds every hash equal and writes nothing. Resumable: rows are
upserted chunk by chunk under stable ids, so a run killed mid-way leaves only complete rows behind and the next run
writes exactly the missing ones. The snapshot id is written last; while it is empty the index is incomplete.

Beside the collections, under the home: what the chat reads besides Chroma rows (index/catalogue_data.py: item order,
co-occurrence, rating scale, reviews) and the ranker's collaborative model (index/collab.py), both carrying the
fingerprint of the input files, so a chat replica needs the index and never the data files.

One build per home and dataset at a time: two runs writing the same embedded Chroma collection at once corrupted it
once, so `build_index` holds an exclusive lock (`<home>/locks/index-<dataset>.lock`) and a second run waits for it.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import sys
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from index import embed, store
from index.models import Dataset
from index.settings import IndexSettings

SNAPSHOT = "whyrec:snapshot"
FINGERPRINT = "whyrec:fingerprint"  # of the input files (index.loaders.dataset_fingerprint)
CHUNK_ROWS = 1024  # rows encoded and upserted together: big enough to amortise a Chroma call, small enough to resume


class IndexNotBuilt(LookupError):
    """The dataset has no complete index in this Chroma: run `whyrec index --dataset NAME`."""


@dataclass
class Row:
    id: str
    document: str
    metadata: dict[str, Any]
    item_id: str  # whose embedding the row carries


def build_index(dataset_name: str, settings: IndexSettings, progress: bool = True,
                chunk_rows: int = CHUNK_ROWS) -> dict[str, Any]:
    """Load `settings.data_dir / dataset_name` and bring its collections, its catalogue data and its collaborative
    model up to date. Returns the counts. Waits while another build of this dataset holds the home's lock."""
    from index.catalogue_data import save_catalogue_data
    from index.collab import build_collab
    from index.loaders import dataset_fingerprint, load_dataset

    with build_lock(settings.home, dataset_name):
        started = time.perf_counter()
        dataset = load_dataset(dataset_name, settings.data_dir)
        fingerprint = dataset_fingerprint(dataset_name, settings.data_dir)
        counts = index_dataset(dataset, settings, fingerprint, progress=progress, chunk_rows=chunk_rows,
                               started=started)
        counts["catalogue_data"] = save_catalogue_data(dataset, settings.home, fingerprint)
        counts["collab"] = build_collab(dataset, settings.home, fingerprint)
    return counts


@contextmanager
def build_lock(home: Path, dataset_name: str) -> Iterator[Path]:
    """Exclusive while the block runs, for every process on this machine building `dataset_name` in `home`: a second
    one says on stderr that it waits, and for whom, then waits. The lock is the OS's (flock), so it is released when
    its holder exits, however it exits; the file stays, holding the last holder's pid."""
    path = Path(home) / "locks" / f"index-{dataset_name}.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            print(f"whyrec index: another run is indexing {dataset_name} in {home} (pid {holder}); waiting for it "
                  f"to finish…", file=sys.stderr, flush=True)
            fcntl.flock(fd, fcntl.LOCK_EX)
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield path
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def index_dataset(dataset: Dataset, settings: IndexSettings, fingerprint: str, progress: bool = True,
                  chunk_rows: int = CHUNK_ROWS, started: float | None = None) -> dict[str, Any]:
    """Index an already loaded Dataset (the benchmark indexes a sample this way)."""
    started = time.perf_counter() if started is None else started
    client = store.open_client(settings)
    chunk_rows = min(chunk_rows, client.get_max_batch_size())
    rebuilt: list[str] = []
    items_col = _readable_collection(client, store.items_collection_name(dataset.name), rebuilt)
    history_col = _readable_collection(client, store.history_collection_name(dataset.name), rebuilt)
    skipped: Counter[str] = Counter()

    item_rows = _item_rows(dataset)
    item_hashes = {r.id: r.metadata[store.CONTENT_HASH] for r in item_rows}
    history_rows = _history_rows(dataset, item_hashes, skipped)

    old_items, old_history = _stored_hashes(items_col), _stored_hashes(history_col)
    items_todo = [r for r in item_rows if old_items.get(r.id) != r.metadata[store.CONTENT_HASH]]
    history_todo = [r for r in history_rows if old_history.get(r.id) != r.metadata[store.CONTENT_HASH]]
    items_stale = sorted(old_items.keys() - item_hashes.keys())
    history_stale = sorted(old_history.keys() - {r.id for r in history_rows})

    snapshot_meta = _snapshot_metadata(dataset, fingerprint, item_rows, history_rows)
    changes = bool(items_todo or history_todo or items_stale or history_stale)
    if changes:  # mark incomplete first, so a killed run never leaves a snapshot id that lies
        items_col.modify(metadata={**(items_col.metadata or {}), SNAPSHOT: ""})

    encoded = _write_items(items_col, items_todo, settings.embed_batch, chunk_rows, progress)
    _write_history(history_col, items_col, history_todo, encoded, chunk_rows, progress)
    for col, stale in ((items_col, items_stale), (history_col, history_stale)):
        for chunk in _chunks(stale, chunk_rows):
            col.delete(ids=chunk)
    if changes or (items_col.metadata or {}).get(SNAPSHOT) != snapshot_meta[SNAPSHOT]:
        items_col.modify(metadata=snapshot_meta)

    seconds = time.perf_counter() - started
    report = dataset.report
    return {
        "dataset": dataset.name,
        "items": len(dataset.items),
        "interactions": len(dataset.interactions),
        "users": len(dataset.users),
        "bundles": len(dataset.bundles),
        "lines_read": dict(report.rows_read),
        "skipped": dict(report.skipped + skipped),
        "repaired": dict(report.repaired),
        "unused": dict(report.unused),
        "encoded": len(encoded),
        "items_written": len(items_todo),
        "history_written": len(history_todo),
        "deleted": len(items_stale) + len(history_stale),
        "rebuilt": rebuilt,
        "collections": {items_col.name: items_col.count(), history_col.name: history_col.count()},
        "snapshot": snapshot_meta[SNAPSHOT],
        "seconds": round(seconds, 2),
        "items_per_s": round(len(dataset.items) / seconds, 1) if seconds > 0 else None,
    }


def index_snapshot(dataset: str, settings: IndexSettings) -> str:
    """The id of the dataset's complete index: fingerprint of the input files + embedding model + a digest of every
    row's content hash (which moves whenever the normaliser's output does). Raises IndexNotBuilt otherwise."""
    return index_metadata(dataset, settings)[SNAPSHOT]


def index_metadata(dataset: str, settings: IndexSettings, client=None) -> dict[str, Any]:
    """The metadata of the dataset's complete index (snapshot id, fingerprint of the input files, counts); raises
    IndexNotBuilt when there is none, it is incomplete or Chroma cannot read it (DatasetError for a name that is a
    path)."""
    from index.loaders import check_dataset_name

    check_dataset_name(dataset)
    client = client or store.open_client(settings)
    try:
        meta = store.get_collection(client, store.items_collection_name(dataset)).metadata or {}
    except Exception as e:  # chromadb raises NotFoundError (1.x) or ValueError (older) for a missing collection
        raise IndexNotBuilt(f"no index for {dataset!r}: run `whyrec index --dataset {dataset}`") from e
    if not meta.get(SNAPSHOT):
        raise IndexNotBuilt(f"the index of {dataset!r} is incomplete: run `whyrec index --dataset {dataset}` again")
    for name in (store.items_collection_name(dataset), store.history_collection_name(dataset)):
        try:
            store.check_readable(store.get_collection(client, name))
        except Exception as e:
            raise IndexNotBuilt(f"Chroma cannot read {name} ({str(e).splitlines()[0][:200]}): run "
                                f"`whyrec index --dataset {dataset}` to rebuild it") from e
    return meta


def _item_rows(dataset: Dataset) -> list[Row]:
    rows = []
    for item in dataset.items:
        meta = store.item_metadata(item)
        meta[store.CONTENT_HASH] = store.content_hash(embed.EMBED_MODEL, item.text, meta)
        rows.append(Row(id=item.item_id, document=item.text, metadata=meta, item_id=item.item_id))
    return rows


def _history_rows(dataset: Dataset, item_hashes: dict[str, str], skipped: Counter[str]) -> list[Row]:
    rows = []
    for row_id, interaction in zip(store.history_ids(dataset.interactions), dataset.interactions):
        item_hash = item_hashes.get(interaction.item_id)
        if item_hash is None:  # its item is not in the catalogue, so there is no embedding to reuse
            skipped["history_item_not_in_catalogue"] += 1
            continue
        meta = store.history_metadata(interaction)
        meta[store.CONTENT_HASH] = store.content_hash(interaction.review, meta, item_hash)
        rows.append(Row(id=row_id, document=interaction.review, metadata=meta, item_id=interaction.item_id))
    return rows


def _readable_collection(client, name: str, rebuilt: list[str]):
    """The collection, made if missing. One that Chroma can no longer read (a run killed while Chroma wrote its
    vector index) is dropped and made anew, and its name added to `rebuilt`: its rows are derived from the data
    files, so the diff then writes them all again."""
    from chromadb.errors import ChromaError

    collection = store.get_collection(client, name, create=True)
    try:
        store.check_readable(collection)
        return collection
    except ChromaError as e:
        reason = str(e).splitlines()[0][:200]
    print(f"whyrec index: {name} cannot be read any more ({reason}); rebuilding it", file=sys.stderr, flush=True)
    client.delete_collection(name)
    rebuilt.append(name)
    return store.get_collection(client, name, create=True)


def _stored_hashes(collection) -> dict[str, str | None]:
    return {row["id"]: (row["metadata"] or {}).get(store.CONTENT_HASH)
            for row in store.iter_rows(collection, include=["metadatas"])}


def _snapshot_metadata(dataset: Dataset, fingerprint: str, item_rows: list[Row],
                       history_rows: list[Row]) -> dict[str, Any]:
    digest = hashlib.sha256()
    for row in sorted(item_rows + history_rows, key=lambda r: r.id):
        digest.update(f"{row.id}\0{row.metadata[store.CONTENT_HASH]}\n".encode())
    content_digest = digest.hexdigest()[:16]
    snapshot = hashlib.sha256(f"{fingerprint}|{embed.EMBED_MODEL}|{content_digest}".encode()).hexdigest()[:16]
    return {SNAPSHOT: snapshot, "whyrec:dataset": dataset.name, FINGERPRINT: fingerprint,
            "whyrec:embed_model": embed.EMBED_MODEL, "whyrec:content_digest": content_digest,
            "whyrec:items": len(item_rows), "whyrec:interactions": len(history_rows)}


def _write_items(items_col, rows: list[Row], batch_size: int, chunk_rows: int,
                 progress: bool) -> dict[str, np.ndarray]:
    """Encode and upsert `rows` chunk by chunk; returns the new vectors so history rows reuse them. One upsert is in
    flight on a writer thread while the next chunk encodes, so Chroma's write time hides behind the encoder's."""
    encoded: dict[str, np.ndarray] = {}
    # length-sorted chunks pad little: the encoder's cost per chunk follows its longest text
    rows = sorted(rows, key=lambda r: len(r.document))
    with _bar(len(rows), "items", progress) as bar, ThreadPoolExecutor(1, thread_name_prefix="whyrec-upsert") as writer:
        writing: Future | None = None
        for chunk in _chunks(rows, chunk_rows):
            vectors = embed.encode([r.document for r in chunk], batch_size=batch_size)
            if writing is not None:
                writing.result()  # at most one write in flight; its error surfaces here
            writing = writer.submit(items_col.upsert, ids=[r.id for r in chunk], embeddings=vectors,
                                    documents=[r.document for r in chunk], metadatas=[r.metadata for r in chunk])
            writing.add_done_callback(lambda _, n=len(chunk): bar.update(n))
            encoded.update(zip((r.id for r in chunk), vectors))
        if writing is not None:
            writing.result()
    return encoded


def _write_history(history_col, items_col, rows: list[Row], encoded: dict[str, np.ndarray], chunk_rows: int,
                   progress: bool) -> None:
    """History rows carry their item's vector: from this run's encoding, else read back from the items collection."""
    vectors = dict(encoded)
    missing = sorted({r.item_id for r in rows} - vectors.keys())
    for chunk in _chunks(missing, chunk_rows):
        got = items_col.get(ids=chunk, include=["embeddings"])
        vectors.update(zip(got["ids"], np.asarray(got["embeddings"], dtype=np.float32)))
    with _bar(len(rows), "history", progress) as bar:
        for chunk in _chunks(rows, chunk_rows):
            history_col.upsert(ids=[r.id for r in chunk], embeddings=np.stack([vectors[r.item_id] for r in chunk]),
                               documents=[r.document for r in chunk], metadatas=[r.metadata for r in chunk])
            bar.update(len(chunk))


def _chunks(seq: Sequence, size: int) -> Iterator[Sequence]:
    for start in range(0, len(seq), size):
        yield seq[start:start + size]


def _bar(total: int, what: str, enabled: bool):
    from tqdm import tqdm

    return tqdm(total=total, desc=f"index {what}", unit=" rows", disable=not enabled or total == 0,
                file=sys.stderr, mininterval=0.5)
