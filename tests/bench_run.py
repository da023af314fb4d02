"""Running a benchmark as CI does: `python bench/<name>.py …` from the repository root."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_bench(
    name: str, *args: str, path: tuple[Path, ...] = ()
) -> subprocess.CompletedProcess[str]:
    """The finished run; `path` goes on PYTHONPATH ahead of the repository."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(str(p) for p in (*path, ROOT))}
    return subprocess.run(
        [sys.executable, f"bench/{name}.py", *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=180,
    )  # fmt: skip


def verified_lines(out: str) -> list[str]:
    return [line for line in out.splitlines() if line.startswith("verified: ")]
