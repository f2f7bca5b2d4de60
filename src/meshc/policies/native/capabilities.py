"""The capability matrix's admission rows: each rule, under the webhook and natively.

``meshc capabilities`` prints them after the spec features (the command line
hands this module to it, as it hands the native admission objects to
``meshc render``). Every rule the webhook judges is a row; the native column
says from which Kubernetes release the API server runs it exactly, or why it
cannot.
"""

from __future__ import annotations

from meshc import providers

from .compile import compile_policies, translated
from .definitions import packaged
from .versions import MINIMUM, show

COLUMNS = ("webhook", "native")


def admission_rows() -> tuple[tuple[str, ...], list[tuple[str, tuple[str, ...]]]]:
    """(column names, rows of (rule, cells)) for every rule of every provider.

    A rule of one mesh's package is named ``<policy>/<mesh>.<rule>``; a generic
    one ``<policy>/<rule>``.
    """
    found: dict[str, str] = {}
    for provider in providers.names():
        if not translated(packaged(), provider):
            found[f"*/{provider}.*"] = (
                "not available: no CEL forms yet (the webhook judges every rule)"
            )
            continue
        for policy in compile_policies(packaged(), provider):
            for rule in policy.rules:
                key = f"{policy.id}/{rule.id}"
                if rule.definition.package == provider:
                    key = f"{policy.id}/{provider}.{rule.id}"
                if rule.unsupported:
                    found[key] = f"unsupported: {rule.unsupported}"
                elif rule.since > MINIMUM:
                    found[key] = (
                        f"exact from Kubernetes {show(rule.since)} ({', '.join(rule.needs)})"
                    )
                else:
                    found[key] = f"exact from Kubernetes {show(MINIMUM)}"
    return COLUMNS, [(key, ("exact", cell)) for key, cell in sorted(found.items())]
