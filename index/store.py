"""Where the index lives in Chroma, and how Items and Interactions become Chroma rows and back.

One Chroma (embedded or a `chroma run` server) holds several datasets, each as two collections:
- `{dataset}-items`: one row per Item; document = `Item.text`, embedding = its MiniLM vector.
- `{dataset}-history`: one row per Interaction; document = the review, embedding = the item's vector (reused).

chromadb 1.x metadata must be scalars, so the multi-valued attributes that `Filters` can ask for become one boolean
key per value (`"genre:Action": True`), which `where` can test for equality. Only those: chromadb 1.5 keeps a schema
entry per distinct key and reads it back on every call, so facet keys for every developer, publisher and year
(~20,000 on Steam) made each query ~300 ms instead of a few; the full ordered attribute list is kept as JSON so an
Item is rebuilt from Chroma alone. Keys may hold any characters except a leading `#` or `$` (checked on 1.5.9).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlparse

from index.attributes import FACETS, SCALAR
from index.models import Interaction, Item
from index.settings import IndexSettings

# Metadata fields that are ours, not facets; a facet key always contains ":" so the two never collide.
CONTENT_HASH = "content_hash"
PAGE = 5000  # rows per `get` page: large pages are fast, and stay well under the client's max batch size


def open_client(settings: IndexSettings):
    """`HttpClient` for `settings.chroma_url` (a `chroma run` server), else an embedded `PersistentClient` at
    `settings.chroma_path`. Telemetry is off: these machines have no network and the index is the user's data."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False)
    if settings.chroma_url:
        url = urlparse(settings.chroma_url if "://" in settings.chroma_url else f"http://{settings.chroma_url}")
        if not url.hostname:
            raise ValueError(f"chroma_url {settings.chroma_url!r} has no host; expected http://HOST:PORT")
        port = url.port or (443 if url.scheme == "https" else 8000)
        try:
            return chromadb.HttpClient(host=url.hostname, port=port, ssl=url.scheme == "https",
                                       settings=chroma_settings)
        except ValueError as e:  # chromadb's "Could not connect to a Chroma server" on the first heartbeat
            raise ConnectionError(f"no Chroma server at {settings.chroma_url}: {e}") from e
    settings.chroma_path.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(settings.chroma_path), settings=chroma_settings)


def items_collection_name(dataset: str) -> str:
    return f"{dataset}-items"


def history_collection_name(dataset: str) -> str:
    return f"{dataset}-history"


def get_collection(client, name: str, create: bool = False):
    """Cosine space and no embedding function: we always pass embeddings, so Chroma never embeds anything."""
    if create:
        return client.get_or_create_collection(name, configuration={"hnsw": {"space": "cosine"}},
                                               embedding_function=None)
    return client.get_collection(name, embedding_function=None)


def check_readable(collection) -> None:
    """Raise chromadb's error unless the collection's rows, vectors and vector index can all be read. A process
    killed while Chroma 1.5 wrote a vector index file can leave it truncated; every later read of that collection
    then fails (InternalError "Error constructing hnsw segment reader", or "Error finding id" on a query)."""
    if collection.count():
        first = collection.get(limit=1, include=["embeddings"])
        collection.query(query_embeddings=first["embeddings"], n_results=1, include=[])


def content_hash(*parts: Any) -> str:
    """Stable hash of what a row is made of; an unchanged hash means the stored row (and embedding) is current."""
    blob = json.dumps(parts, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


def facet_key(key: str, value: str) -> str:
    return f"{key}:{value}"


def item_metadata(item: Item) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "item_id": item.item_id,  # also a field so `where` can exclude ids with $nin
        "title": item.title,
        "source": item.source,
        "popularity": float(item.popularity),
        "attributes_json": json.dumps(item.attributes, ensure_ascii=False),
    }
    if item.price is not None:
        meta["price"] = float(item.price)
    for key in SCALAR:
        value = item.first(key)
        if value:
            meta[key] = int(value) if key == "release_year" and value.isdigit() else value
    for key, value in item.attributes:
        if key in FACETS and value:
            meta[facet_key(key, value)] = True
    return meta


def item_from_row(document: str | None, meta: dict[str, Any]) -> Item:
    return Item(item_id=meta["item_id"], title=meta["title"], text=document or "",
                attributes=[(k, v) for k, v in json.loads(meta["attributes_json"])],
                price=meta.get("price"), popularity=meta.get("popularity", 0.0), source=meta["source"])


def history_ids(interactions: list[Interaction]) -> list[str]:
    """`user|item|timestamp`; a repeat of the same triple (Gift Cards has 3: two reviews of one card on one day)
    gets `|2`, `|3`... in file order, so every interaction has its own stable row."""
    seen: dict[str, int] = {}
    ids = []
    for i in interactions:
        base = f"{i.user_id}|{i.item_id}|{i.timestamp}"
        seen[base] = seen.get(base, 0) + 1
        ids.append(base if seen[base] == 1 else f"{base}|{seen[base]}")
    return ids


def history_metadata(interaction: Interaction) -> dict[str, Any]:
    meta: dict[str, Any] = {"user_id": interaction.user_id, "item_id": interaction.item_id,
                            "timestamp": int(interaction.timestamp)}
    if interaction.rating is not None:
        meta["rating"] = float(interaction.rating)
    return meta


def interaction_from_row(document: str | None, meta: dict[str, Any]) -> Interaction:
    return Interaction(user_id=meta["user_id"], item_id=meta["item_id"], rating=meta.get("rating"),
                       timestamp=meta.get("timestamp", 0), review=document or "")


def iter_rows(collection, include: list[str], where: dict | None = None, page: int = PAGE) -> Iterator[dict]:
    """Every row of a collection (or of a `where`), page by page: {"id", and each of `include`}."""
    offset = 0
    while True:
        got = collection.get(where=where, include=include, limit=page, offset=offset)
        ids = got["ids"]
        for n, row_id in enumerate(ids):
            row = {"id": row_id}
            for field in include:
                values = got[field]
                row[field[:-1]] = values[n]  # "metadatas" -> "metadata", ...
            yield row
        if len(ids) < page:
            return
        offset += page
