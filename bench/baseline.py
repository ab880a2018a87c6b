"""An older commit of this repository, checked out beside it, so a benchmark can run "before"
and "after" in one run on one machine (figures from different days are not comparable)."""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.support.runtime import REPO_ROOT

# The runtime as it stood before the issue-6 work (in-process Lambdas behind one lock,
# http.server): the "today" that the figures are measured against.
DEFAULT_BASELINE = "3872257"


@contextmanager
def checkout(ref: str) -> Iterator[Path]:
    """A detached worktree of `ref`, removed afterwards. It runs with this venv's packages."""
    with tempfile.TemporaryDirectory(prefix="bench-baseline-") as tmp:
        tree = Path(tmp) / "tree"
        subprocess.run(
            ["git", "worktree", "add", "--detach", "--quiet", str(tree), ref],
            cwd=REPO_ROOT,
            check=True,
        )
        try:
            yield tree
        finally:
            subprocess.run(
                ["git", "worktree", "remove", "--force", str(tree)], cwd=REPO_ROOT, check=False
            )


def describe(ref: str) -> str:
    done = subprocess.run(
        ["git", "log", "-1", "--format=%h %s", ref],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    return done.stdout.strip()[:72] or ref
