"""What ``meshc render`` adds for ``spec.admission.enforcement: native`` or ``both``.

:func:`admission_objects` is handed to the compiler's render by the command
line (``meshc.cli``): the compiler renders the mesh, the policies layer adds
the admission objects that enforce it, and neither imports the other's
upward layer. Lossless or loud: a rule the native policies cannot run on the
target Kubernetes release is an error under ``native`` (naming the rule and
why) and a warning under ``both``, where the webhook keeps judging it.
"""

from __future__ import annotations

from meshc.compiler.errors import Level, Problem
from meshc.compiler.model import Mesh
from meshc.compiler.objects import Obj

from .compile import translated
from .definitions import packaged
from .objects import native_admission
from .versions import LATEST, Version, parse, serves, show

ENFORCEMENT_PATH = "spec.admission.enforcement"
VERSION_PATH = "spec.admission.kubernetesVersion"


def target_version(mesh: Mesh, flag: str | None) -> tuple[Version, list[Problem]]:
    """The release to render for: ``--kube-version``, else the spec's, else :data:`LATEST`."""
    text, path = (
        (flag, "--kube-version") if flag else (mesh.admission.kubernetes_version, VERSION_PATH)
    )
    if text is None:
        return LATEST, []
    try:
        return parse(text), []
    except ValueError as exc:
        return LATEST, [_problem(mesh, path, str(exc))]


def admission_objects(
    mesh: Mesh, kube_version: str | None = None
) -> tuple[list[Obj], list[Problem]]:
    """The native admission objects of ``mesh`` and the problems rendering them met.

    Problems at level ``error`` fail the render; ``warning`` ones are printed.
    """
    enforcement = mesh.admission.enforcement
    if enforcement == "webhook":
        return [], []
    version, problems = target_version(mesh, kube_version)
    if problems:
        return [], problems
    if not translated(packaged(), mesh.provider):
        return [], [
            _problem(
                mesh,
                ENFORCEMENT_PATH,
                f"{mesh.provider}'s rules have no CEL forms yet, so the API server cannot enforce "
                "them natively; use enforcement: webhook",
            )
        ]
    try:
        served = serves(version)
    except ValueError as exc:
        path = "--kube-version" if kube_version else VERSION_PATH
        return [], [_problem(mesh, path, str(exc))]
    result = native_admission(mesh, version, allow_webhook_rules=enforcement == "both")
    for refusal in result.refused:
        if enforcement == "native":
            problems.append(
                _problem(
                    mesh,
                    ENFORCEMENT_PATH,
                    f"the rule {refusal} cannot be enforced natively on Kubernetes {show(version)}; "
                    "use enforcement: both to leave it to the webhook",
                )
            )
        else:
            problems.append(
                _problem(
                    mesh,
                    ENFORCEMENT_PATH,
                    f"left to the webhook on Kubernetes {show(version)}: {refusal}",
                    "warning",
                )
            )
    if served.mutating is None:
        problems.append(
            _problem(
                mesh,
                ENFORCEMENT_PATH,
                f"Kubernetes {show(version)} serves no MutatingAdmissionPolicy (1.34 or later): meshed "
                "namespaces must carry their markers from Git (the rendered Namespaces do)",
                "warning",
            )
        )
    return result.objects, problems


def _problem(mesh: Mesh, path: str, message: str, level: Level = "error") -> Problem:
    if path.startswith("--"):
        return Problem("<command line>", 0, 0, path, message, level)
    line, col = mesh.locate(path)
    return Problem(mesh.source, line, col, path, message, level)
