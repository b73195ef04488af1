"""Streaming records out of (possibly gzipped, possibly damaged) line-per-record files, counting what goes wrong.

Full-size dataset files are GBs, so nothing here reads a whole file into memory. Damage is counted into the
LoadReport under `<role>_<reason>` and never raised: a truncated or corrupt gzip keeps every line decompressed before
the damage (a hand-rolled zlib loop, because `gzip.GzipFile.readline` loses its buffered tail when it hits EOFError).
"""

from __future__ import annotations

import ast
import hashlib
import json
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

from index.models import LoadReport

CHUNK_BYTES = 1 << 20
GZIP_WBITS = 16 + zlib.MAX_WBITS


def _gzip_chunks(path: Path, report: LoadReport, role: str) -> Iterator[bytes]:
    """Decompressed bytes of every gzip member in `path`; stops at damage, after counting it."""
    decompressor = zlib.decompressobj(GZIP_WBITS)
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK_BYTES):
            try:
                data = decompressor.decompress(chunk)
                while decompressor.eof and decompressor.unused_data:  # concatenated members (`cat a.gz b.gz`)
                    rest = decompressor.unused_data
                    decompressor = zlib.decompressobj(GZIP_WBITS)
                    data += decompressor.decompress(rest)
            except zlib.error:
                report.skipped[f"{role}_corrupt_gzip"] += 1
                return
            yield data
    if not decompressor.eof:
        yield decompressor.flush()
        report.skipped[f"{role}_truncated_gzip"] += 1


def _raw_lines(path: Path, report: LoadReport, role: str) -> Iterator[bytes]:
    if not path.name.endswith(".gz"):
        with path.open("rb") as handle:
            yield from handle
        return
    pending = b""
    for data in _gzip_chunks(path, report, role):
        lines = (pending + data).split(b"\n")
        pending = lines.pop()
        yield from lines
    if pending:
        yield pending  # last line without a newline, or the torn tail of a truncated file (it then fails to parse)


def read_lines(path: Path, report: LoadReport, role: str) -> Iterator[str]:
    """Non-blank decoded lines; each counts in `report.rows_read[path.name]`; undecodable ones are skipped."""
    for raw in _raw_lines(path, report, role):
        if not raw.strip():
            continue
        report.rows_read[path.name] += 1
        try:
            yield raw.decode("utf-8")
        except UnicodeDecodeError:
            report.skipped[f"{role}_undecodable_line"] += 1


def _parse(line: str, syntax: Literal["json", "python"]) -> Any:
    if syntax == "json":
        return json.loads(line)
    # Python-2 dict literals (Steam). literal_eval only builds literals; it never runs code.
    return ast.literal_eval(line.strip())


def read_records(path: Path, report: LoadReport, role: str,
                 syntax: Literal["json", "python"] = "json") -> Iterator[dict[str, Any]]:
    """Each line parsed as one object; lines in the other syntax are accepted too (some mirrors re-dumped
    the Python-literal files as JSON and vice versa). Unparseable lines and non-objects are counted and skipped."""
    other: Literal["json", "python"] = "python" if syntax == "json" else "json"
    for line in read_lines(path, report, role):
        record: Any = None
        for attempt in (syntax, other):
            try:
                record = _parse(line, attempt)
                break
            except (ValueError, SyntaxError, TypeError, RecursionError, MemoryError):
                continue
        else:
            report.skipped[f"{role}_unparseable_line"] += 1
            continue
        if isinstance(record, dict):
            yield record
        else:
            report.skipped[f"{role}_not_an_object"] += 1


_HASH_CACHE: dict[tuple[str, int, int], str] = {}


def file_sha256(path: Path) -> str:
    """sha256 of the file's bytes, cached per (path, size, mtime) for the life of the process."""
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if key not in _HASH_CACHE:
        digest = hashlib.sha256()
        with path.open("rb") as handle:
            while chunk := handle.read(CHUNK_BYTES):
                digest.update(chunk)
        _HASH_CACHE[key] = digest.hexdigest()
    return _HASH_CACHE[key]
