"""Where the repository, the shared upstream fixtures and the built Go tools are."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
# The upstream CRDs live beside the repository (../shared), in a checkout and in CI.
SHARED = Path(os.environ.get("MESHC_SHARED", REPO.parent / "shared")).resolve()
CRDS = SHARED / "crds"
SEED = SHARED / "seed" / "kubernetes-service-mesh.md"
EXAMPLES = REPO / "examples"
TOOLS_BIN = Path(os.environ.get("MESHC_TOOLS_BIN", REPO / ".tools" / "bin"))


def require_tool(name: str) -> Path:
    """The path of a pinned Go tool built by ``tools/build.sh``.

    In CI a missing tool is a failure (the build script is part of the run);
    on a developer machine the test is skipped with the command that builds it.
    """
    candidate = TOOLS_BIN / name
    if candidate.is_file() and os.access(candidate, os.X_OK):
        return candidate
    if os.environ.get("CI"):
        pytest.fail(f"{name} is missing from {TOOLS_BIN}: CI must run tools/build.sh first")
    pytest.skip(f"{name} is not built: run `bash tools/build.sh` to build the pinned Go tools")
    raise AssertionError("unreachable")


def which_or_fail(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not on PATH")
    return found
