"""The typed retrieval API the chain reads: candidates for a request, one user's history, items and vectors by id.

Every query embedding is computed here (MiniLM, cached); nothing else ever embeds. Candidates come by one of two
paths (`settings.retrieval`), with the same filter semantics (`Filters`) and the same Candidates:
- "memory" (default): exact search over an in-memory snapshot of the items collection (index/snapshot.py), loaded
  from Chroma once per process and reloaded when the index changes; items and vectors by id are read from it too.
- "chroma": every query goes to Chroma's HNSW index with a `where` built by `build_where`; a filtered search that
  comes back short is redone exactly.
Similarity = cosine = 1 - Chroma's cosine distance. A user's history is always read from Chroma with
`where user_id == X` and nothing else, so no request text can widen it to another user's rows. Every item and what
the build stored beside the index for the chat (index/catalogue_data.py) are read here too, so a chat needs no data
files.
"""

from __future__ import annotations

from collections import Counter
from functools import cached_property
from typing import Any

import numpy as np
from pydantic import BaseModel, Field

from index import embed, store
from index.build import FINGERPRINT, IndexNotBuilt, index_metadata, index_snapshot
from index.catalogue_data import CatalogueData, catalogue_data_path, load_catalogue_data
from index.filters import Filters, conditions
from index.models import Item
from index.settings import IndexSettings
from index.snapshot import ItemSnapshot, LiveSnapshot


class Candidate(BaseModel):
    item: Item
    similarity: float = Field(description="1 - cosine distance to the request")


class HistoryEntry(BaseModel):
    item: Item
    rating: float | None = None
    timestamp: int = 0
    review: str = ""


def build_where(filters: Filters) -> dict[str, Any] | None:
    """chromadb 1.x `where`: None for no condition, the bare condition for one, `$and` for two or more (it rejects
    both a multi-key dict and a one-element `$and`)."""
    where = [{c.field: {"$eq": True} if c.op == "true" else {f"${c.op}": c.value}} for c in conditions(filters)]
    if not where:
        return None
    return where[0] if len(where) == 1 else {"$and": where}


class Retriever:
    """Read side of one dataset's index (embedded Chroma or a server, by settings)."""

    def __init__(self, dataset: str, settings: IndexSettings, client=None):
        self.dataset = dataset
        self.settings = settings
        self._client = client
        self.exact_fallbacks = 0  # searches where HNSW came back short and every match was scored exactly

    @cached_property
    def client(self):
        return self._client or store.open_client(self.settings)

    @cached_property
    def items_col(self):
        return store.get_collection(self.client, store.items_collection_name(self.dataset))

    @cached_property
    def snapshot(self) -> LiveSnapshot:
        return LiveSnapshot(self.client, store.items_collection_name(self.dataset), self.settings.snapshot_check_s)

    def _memory(self) -> ItemSnapshot | None:
        """The current in-memory snapshot when retrieval is "memory", else None (read from Chroma)."""
        return self.snapshot.get() if self.settings.retrieval == "memory" else None

    @cached_property
    def history_col(self):
        return store.get_collection(self.client, store.history_collection_name(self.dataset))

    def snapshot_id(self) -> str:
        """The id of the complete index this retriever reads (provenance of every answer); raises IndexNotBuilt."""
        return index_snapshot(self.dataset, self.settings)

    # candidates -----------------------------------------------------------------------------------------------

    def candidates(self, query: str, filters: Filters | None = None, n: int = 50) -> list[Candidate]:
        """Top `n` items most similar to `query` that satisfy `filters`, best first."""
        return self.candidates_for_vector(embed.encode_query(query), filters, n)

    def candidates_for_vector(self, vector: np.ndarray, filters: Filters | None = None, n: int = 50) -> list[Candidate]:
        if n <= 0:
            return []
        if snap := self._memory():
            return [Candidate(item=snap.item(row), similarity=similarity)
                    for row, similarity in snap.search(vector, filters or Filters(), n)]
        where = build_where(filters or Filters())
        include = ["metadatas", "documents", "distances"]
        got = self.items_col.query(query_embeddings=[np.asarray(vector, dtype=np.float32)], n_results=n,
                                   where=where, include=include)
        rows = _query_rows(got, include)
        if len(rows) < n and where is not None:
            rows = self._exact_if_short(vector, where, n, rows)
        return [Candidate(item=store.item_from_row(r["document"], r["metadata"]), similarity=1.0 - float(r["distance"]))
                for r in rows]

    def _exact_if_short(self, vector: np.ndarray, where: dict, n: int, rows: list[dict]) -> list[dict]:
        """A filtered approximate (HNSW) search can return fewer than `n` rows while more match; then score every
        matching row exactly. Selective filters match few rows, so this stays cheap when it happens."""
        matching = self.items_col.get(where=where, include=[])["ids"]
        if len(matching) <= len(rows):
            return rows
        self.exact_fallbacks += 1
        got = self.items_col.get(ids=matching, include=["metadatas", "documents", "embeddings"])
        vectors = np.asarray(got["embeddings"], dtype=np.float32)
        similarity = vectors @ np.asarray(vector, dtype=np.float32)
        order = np.argsort(-similarity, kind="stable")[:n]
        return [{"id": got["ids"][i], "metadata": got["metadatas"][i], "document": got["documents"][i],
                 "distance": 1.0 - float(similarity[i])} for i in order]

    # items and vectors ----------------------------------------------------------------------------------------

    def get_items(self, ids: list[str]) -> list[Item]:
        """Items in the order of `ids`; unknown ids are left out."""
        if not ids:
            return []
        if snap := self._memory():
            return [snap.item(snap.row_of[i]) for i in ids if i in snap.row_of]
        got = self.items_col.get(ids=list(dict.fromkeys(ids)), include=["metadatas", "documents"])
        by_id = {i: store.item_from_row(d, m) for i, d, m in zip(got["ids"], got["documents"], got["metadatas"])}
        return [by_id[i] for i in ids if i in by_id]

    def all_items(self) -> list[Item]:
        """Every item of the index, in the store's order (the memory snapshot's rows when retrieval is "memory")."""
        if snap := self._memory():
            return [snap.item(row) for row in range(len(snap.ids))]
        return [store.item_from_row(r["document"], r["metadata"])
                for r in store.iter_rows(self.items_col, include=["metadatas", "documents"])]

    def catalogue_data(self) -> CatalogueData:
        """What `whyrec index` stored beside this index for the chat (index/catalogue_data.py); IndexNotBuilt when the
        index is incomplete, or the stored data is missing or was computed from other input files than the index."""
        fingerprint = index_metadata(self.dataset, self.settings, client=self.client).get(FINGERPRINT)
        data = load_catalogue_data(self.settings.home, self.dataset)
        if data is None or data.fingerprint != fingerprint or data.dataset != self.dataset:
            raise IndexNotBuilt(f"no catalogue data for the index of {self.dataset!r} at "
                                f"{catalogue_data_path(self.settings.home, self.dataset)} (missing, from other input "
                                f"files, or in an older layout): run `whyrec index --dataset {self.dataset}`")
        return data

    def embeddings(self, ids: list[str]) -> dict[str, np.ndarray]:
        """Stored unit vectors by item id (for history similarity in the ranker); unknown ids are left out."""
        if not ids:
            return {}
        if snap := self._memory():
            return {i: snap.vectors[snap.row_of[i]].copy() for i in ids if i in snap.row_of}
        got = self.items_col.get(ids=list(dict.fromkeys(ids)), include=["embeddings"])
        return {i: np.asarray(v, dtype=np.float32) for i, v in zip(got["ids"], got["embeddings"])}

    # users ----------------------------------------------------------------------------------------------------

    def history(self, user_id: str) -> list[HistoryEntry]:
        """This user's interactions, oldest first, with their items. Only rows whose user_id equals `user_id`."""
        got = self.history_col.get(where={"user_id": {"$eq": user_id}}, include=["metadatas", "documents"])
        rows = [store.interaction_from_row(d, m) for d, m in zip(got["documents"], got["metadatas"])]
        rows = [r for r in rows if r.user_id == user_id]  # belt and braces: never hand out another user's row
        rows.sort(key=lambda r: (r.timestamp, r.item_id))
        items = {i.item_id: i for i in self.get_items([r.item_id for r in rows])}
        return [HistoryEntry(item=items[r.item_id], rating=r.rating, timestamp=r.timestamp, review=r.review)
                for r in rows if r.item_id in items]

    def has_user(self, user_id: str) -> bool:
        return bool(self.history_col.get(where={"user_id": {"$eq": user_id}}, limit=1, include=[])["ids"])

    def users(self, limit: int | None = None) -> list[str]:
        """User ids, most interactions first (ties by id), at most `limit`."""
        ranked = sorted(self._user_counts.items(), key=lambda kv: (-kv[1], kv[0]))
        return [u for u, _ in ranked[:limit]]

    @cached_property
    def _user_counts(self) -> Counter[str]:
        return Counter(row["metadata"]["user_id"] for row in store.iter_rows(self.history_col, include=["metadatas"]))


def _query_rows(got: dict, include: list[str]) -> list[dict]:
    rows = []
    for n, row_id in enumerate(got["ids"][0]):
        row = {"id": row_id}
        for field in include:
            row[field[:-1]] = got[field][0][n]
        rows.append(row)
    return rows
