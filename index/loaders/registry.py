"""Dataset formats registered by name, each with what it reads and how to recognise its files."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from index.models import Dataset


class DatasetError(ValueError):
    """The dataset folder or format cannot be used (not a malformed row: those are counted, never raised)."""


@dataclass(frozen=True)
class LoaderSpec:
    name: str
    description: str
    file_patterns: str = ""
    has_interactions: bool = False
    has_bundles: bool = False
    # The files of this format in a folder ([] = not this format). Also what the fingerprint hashes.
    data_files: Callable[[Path], list[Path]] = lambda folder: []
    load: Callable[[Path, str], Dataset] | None = None


LOADERS: dict[str, LoaderSpec] = {}


def register(spec: LoaderSpec) -> LoaderSpec:
    if spec.name in LOADERS:
        raise ValueError(f"loader {spec.name!r} is registered twice")
    LOADERS[spec.name] = spec
    return spec


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    choices = sorted(choices)
    close = difflib.get_close_matches(name, choices, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return f"{hint}known: {', '.join(choices) or '(none)'}"


def get_loader(name: str) -> LoaderSpec:
    if name not in LOADERS:
        raise DatasetError(f"unknown dataset format {name!r}; {did_you_mean(name, LOADERS)}")
    return LOADERS[name]


def detect_format(folder: Path) -> LoaderSpec:
    """The first registered format that finds its files in `folder` (Steam, then Amazon 2023, then 2018)."""
    for spec in LOADERS.values():
        if spec.data_files(folder):
            return spec
    present = sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []
    expected = "; ".join(f"{s.name}: {s.file_patterns}" for s in LOADERS.values())
    raise DatasetError(f"no known dataset files in {folder} (found: {present or 'nothing'}). Expected {expected}")
