"""Golden files: rendered text compared byte for byte with a committed copy.

``MESHC_UPDATE_GOLDEN=1 pytest`` rewrites them; otherwise a missing or stale
golden fails the test with a diff.
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path

GOLDEN = Path(__file__).resolve().parents[1] / "golden"


def assert_golden(path: Path, text: str) -> None:
    if os.environ.get("MESHC_UPDATE_GOLDEN") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return
    if not path.exists():
        raise AssertionError(f"{path} is missing: run MESHC_UPDATE_GOLDEN=1 pytest to create it")
    expected = path.read_text(encoding="utf-8")
    if expected != text:
        diff = "".join(
            difflib.unified_diff(
                expected.splitlines(keepends=True),
                text.splitlines(keepends=True),
                fromfile=str(path),
                tofile="rendered",
            )
        )
        raise AssertionError(f"{path} is stale (MESHC_UPDATE_GOLDEN=1 refreshes it):\n{diff}")
