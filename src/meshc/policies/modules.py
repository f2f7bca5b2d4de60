"""The Rego modules of the policies, as shipped in this package.

``*_test.rego`` files are OPA unit tests and never part of what is evaluated.
"""

from __future__ import annotations

import os
from importlib import resources
from importlib.abc import Traversable
from pathlib import Path

# The document every engine queries: the union of every policy's violations.
ENTRYPOINT = "meshc/main/violations"
# A directory of .rego files to use instead of the packaged ones; set by
# `meshc webhook serve --policies DIR` so every worker process inherits it.
POLICIES_ENV = "MESHC_POLICIES_DIR"
# Where policy_data() is mounted.
DATA_ROOT = ("meshc", "config")


def packaged_dir() -> Traversable:
    """The folder of the packaged Rego (and its compiled Wasm module)."""
    return resources.files(__package__).joinpath("rego")


def policy_modules() -> dict[str, str]:
    """``{file name: Rego source}`` of every policy and library module.

    Libraries come first and the entry point last: an OPA server compiles each
    module as it is pushed, so a module may only follow what it imports.
    """
    override = os.environ.get(POLICIES_ENV)
    root: Traversable = Path(override) if override else packaged_dir()
    found = {
        entry.name: entry.read_text(encoding="utf-8")
        for entry in root.iterdir()
        if entry.name.endswith(".rego") and not entry.name.endswith("_test.rego")
    }
    order = sorted(found, key=lambda name: (not name.startswith("lib_"), name == "main.rego", name))
    return {name: found[name] for name in order}


def data_document(config: dict[str, object]) -> dict[str, object]:
    """The whole base document with ``config`` at ``data.meshc.config``."""
    return {DATA_ROOT[0]: {DATA_ROOT[1]: config}}
