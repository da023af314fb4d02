"""How a benchmark ends: what it verified, or what it did not, and its exit status.

A benchmark whose work was not done never exits 0: each check that failed is printed as a
`NOT VERIFIED:` line and the status is 1; otherwise each check is printed, with its numbers,
as a `verified:` line, and the status is 0.
"""

from __future__ import annotations

from collections.abc import Sequence


def verdict(failures: Sequence[str], verified: Sequence[str]) -> tuple[list[str], int]:
    """The closing lines and the exit status."""
    if failures:
        return [f"NOT VERIFIED: {failure}" for failure in failures], 1
    return [f"verified: {line}" for line in verified], 0


def conclude(failures: Sequence[str], verified: Sequence[str]) -> int:
    """Print the closing lines; return the exit status."""
    lines, status = verdict(failures, verified)
    print("\n".join(lines))
    return status
