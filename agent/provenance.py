"""Which code produced a result: the git commit of this checkout, and whether it had uncommitted changes.
Every answer, grid run, benchmark and fault report records it (STYLE.md #3)."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from index.settings import PROJECT_ROOT


@dataclass(frozen=True)
class GitState:
    commit: str  # full sha, or "unknown" outside a git checkout
    dirty: bool  # tracked files differ from the commit

    @property
    def short(self) -> str:
        return self.commit[:7] if self.commit != "unknown" else self.commit

    def label(self) -> str:
        return f"{self.commit}{'+dirty' if self.dirty else ''}"


def _git(*args: str) -> str:
    try:
        return subprocess.run(["git", *args], capture_output=True, text=True, timeout=10, cwd=PROJECT_ROOT).stdout
    except OSError:
        return ""


def git_state() -> GitState:
    """Read now (a long-running process may outlive a commit): for runs and benchmarks."""
    return GitState(_git("rev-parse", "HEAD").strip() or "unknown",
                    bool(_git("status", "--porcelain", "--untracked-files=no").strip()))


@cache
def git_commit() -> str:
    """The short commit, read once per process: for the provenance of every chat answer."""
    return git_state().short


def changed_since(commit: str, paths: Sequence[str], checkout: Path = PROJECT_ROOT) -> list[str] | None:
    """Files under `paths` that differ from `commit` in the working tree (committed or not, new or deleted); None
    when git cannot tell (no checkout, an unknown commit)."""
    def lines(*args: str) -> list[str]:
        return subprocess.run(["git", *args], capture_output=True, text=True, timeout=30, cwd=checkout,
                              check=True).stdout.splitlines()

    try:
        changed = lines("diff", "--name-only", commit, "--", *paths)
        changed += lines("ls-files", "--others", "--exclude-standard", "--", *paths)
    except (OSError, subprocess.SubprocessError):
        return None
    return sorted(set(changed))
