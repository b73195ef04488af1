"""Which code produced a result: the git commit of this checkout, and whether it had uncommitted changes.
Every answer, grid run, benchmark and fault report records it (STYLE.md #3)."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from functools import cache

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
