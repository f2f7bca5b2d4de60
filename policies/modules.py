"""The Rego modules of the policies, as shipped in this package.

``*_test.rego`` files are OPA unit tests and never part of what is evaluated.
"""

from __future__ import annotations

from importlib import resources

# The document both engines query: the union of every policy's violations.
ENTRYPOINT = "meshc/main/violations"
QUERY = "data.meshc.main.violations"
# Where policy_data() is mounted.
DATA_ROOT = ("meshc", "config")


def policy_modules() -> dict[str, str]:
    """``{file name: Rego source}`` of every policy and library module.

    Libraries come first and the entry point last: an OPA server compiles each
    module as it is pushed, so a module may only follow what it imports.
    """
    root = resources.files(__package__)
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
