"""Dataset loaders: one entry point, `load_dataset(name, data_dir)`, for every supported format.

`name` is a folder under `data_dir`; the format is recognised from the file names inside it, not from the folder
name, so a folder holding a full-size official download loads the same way as the shipped samples. Formats are
registered in `LOADERS` (see `registry.py`); detection tries them in registration order: Steam, Amazon 2023,
Amazon 2018.

`dataset_fingerprint` identifies the exact input: sha256 over the sorted (file name, size, sha256 of the file's
bytes) of the files the format reads. Full-content hashing is about 1-2 s per GB here and is cached per
(path, size, mtime) in the process, so loading and fingerprinting hash each file once.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

# Registration order is detection order: the Steam games file is also `*.json.gz`, so Steam goes first.
from index.loaders import steam as _steam  # noqa: F401
from index.loaders import amazon2023 as _amazon2023  # noqa: F401
from index.loaders import amazon2018 as _amazon2018  # noqa: F401
from index.loaders.reading import file_sha256
from index.loaders.registry import LOADERS, DatasetError, LoaderSpec, detect_format, did_you_mean, get_loader
from index.models import Dataset

__all__ = ["LOADERS", "DatasetError", "LoaderSpec", "check_dataset_name", "dataset_folder", "dataset_fingerprint", "detect_format",
           "get_loader", "load_dataset"]


def check_dataset_name(name: str) -> str:
    """`name` if it is a plain folder name; DatasetError for a path ('../../etc', '/etc', '..'). A chat replica
    checks this without any data folder: it has only the index."""
    if Path(name).name != name or name in {"", ".", ".."}:
        raise DatasetError(f"unknown dataset {name!r}: a dataset is a folder name under the data folder, not a path")
    return name


def dataset_folder(name: str, data_dir: Path) -> Path:
    """`data_dir / name`, refusing names that are not a plain folder there (with the close matches)."""
    data_dir = Path(data_dir)
    folder = data_dir / check_dataset_name(name)
    if not folder.is_dir():
        available = [p.name for p in data_dir.iterdir() if p.is_dir()] if data_dir.is_dir() else []
        raise DatasetError(f"unknown dataset {name!r} in {data_dir}; {did_you_mean(name, available)}")
    return folder


def load_dataset(name: str, data_dir: Path, format_name: str | None = None) -> Dataset:
    """Load `data_dir/name` into items, interactions and bundles, with a LoadReport of every row skipped,
    repaired or left out of scope. `format_name` forces a registered format instead of detecting it."""
    folder = dataset_folder(name, data_dir)
    spec = get_loader(format_name) if format_name else detect_format(folder)
    if not spec.data_files(folder):
        raise DatasetError(f"{folder} has no {spec.name} files ({spec.file_patterns})")
    assert spec.load is not None
    dataset = spec.load(folder, name)
    dataset.report.files = {p.name: file_sha256(p) for p in spec.data_files(folder)}
    return dataset


def dataset_fingerprint(name: str, data_dir: Path) -> str:
    """sha256 over the sorted (name, size, content sha256) of the dataset's files: changes iff an input changes."""
    folder = dataset_folder(name, data_dir)
    digest = hashlib.sha256()
    for path in sorted(detect_format(folder).data_files(folder), key=lambda p: p.name):
        digest.update(f"{path.name}\0{path.stat().st_size}\0{file_sha256(path)}\n".encode())
    return digest.hexdigest()
