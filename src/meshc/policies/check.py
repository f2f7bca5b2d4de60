"""``meshc check``: the admission policies over manifests, before they reach a cluster.

The paths are read as a repository holds them (:func:`~meshc.policies.manifests.scan_manifests`):
what is not a Kubernetes object to apply is skipped, each with a line saying
why (``--strict`` makes that an error). Each object is judged as the webhook
would judge it once the API server sent it (``--operation``, CREATE by
default; :mod:`meshc.policies.offline`: its namespace, the exempt namespaces,
the webhook's mutation); an AdmissionReview document is judged as written.
A finding is placed on the line of the field it names. The exit code is the
admission decision (:func:`~meshc.policies.engine.decide`, the webhook's too)
over every finding: 0 when every object would be admitted (warn and audit
findings are printed and admitted), 1 when one would be denied, 2 when the
input (spec, manifests, engine) is unusable. The run ends with a summary on
stderr, clean or not.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from meshc.exitcodes import ExitCode, UsageError

from . import forked
from .admission import admission_review
from .engine import ENGINES, Decision, EngineError, PolicyEngine, create_engine, decide
from .manifests import (
    Manifest,
    ManifestError,
    Scan,
    Skipped,
    listed_files,
    scan_files,
    scan_manifests,
)
from .offline import OfflineAdmission
from .report import FORMATS, Finding

# What a run whose process ends with it read (``args.process_ends``, set by
# meshc.cli.run): that process exits without freeing anything, and freeing a
# thousand files' YAML nodes on the way out took tens of milliseconds.
_LEFT_TO_EXIT: list[Scan] = []


def run(args: argparse.Namespace) -> ExitCode:
    with _no_cyclic_gc():
        return _run(args)


def _run(args: argparse.Namespace) -> ExitCode:
    from meshc.compiler.loader import load_mesh

    from .data import only_policies, policy_data

    mesh = load_mesh(args.spec)  # a SpecError reaches meshc.cli.main
    try:
        data = policy_data(mesh)
    except (OSError, ValueError) as exc:
        raise UsageError(f"{args.spec}: {exc}") from None
    if getattr(args, "mode", None):
        data["modes"] = {policy: args.mode for policy in data["modes"]}
    try:
        data = only_policies(data, getattr(args, "policy", ()))
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    run = _Run(args, mesh, data)
    part, findings = run.in_parallel() or run.in_turn()
    for line in part.tally.defaulted_lines(
        run.offline.default_namespace, explicit=bool(run.offline.namespace)
    ):
        print(line, file=sys.stderr)
    sys.stdout.write(FORMATS[args.format](findings))
    decision = decide(f.violation for f in findings)
    print(summary(part, findings, decision), file=sys.stderr)
    return exit_code(decision)


@dataclass
class Part:
    """What was read and found in a share of the files (or in all of them)."""

    files: int = 0  # files read
    skipped: list[Skipped] = field(default_factory=list)
    object_files: set[str] = field(default_factory=set)  # files with an object, judged or not
    findings: list[Finding] = field(default_factory=list)  # the policies'
    conflicts: list[Finding] = field(default_factory=list)  # the collisions with the spec
    tally: Tally = field(default_factory=lambda: Tally())
    unreadable: ManifestError | None = None  # reading the files failed
    failed: Exception | None = None  # judging an object failed (EngineError, ValueError)

    def read(self, scan: Scan) -> None:
        self.files, self.skipped = scan.files, scan.skipped
        self.object_files = {m.file for m in scan.manifests}

    @property
    def files_skipped(self) -> int:
        """Files none of whose documents was read as an object."""
        return len({s.file for s in self.skipped} - self.object_files)

    @classmethod
    def merged(cls, parts: Sequence[Part]) -> Part:
        """The parts of one run, in order, as one."""
        whole = cls()
        for part in parts:
            whole.files += part.files
            whole.skipped += part.skipped
            whole.object_files |= part.object_files
            whole.findings += part.findings
            whole.conflicts += part.conflicts
            whole.tally.judged += part.tally.judged
            whole.tally.exempt.update(part.tally.exempt)
            whole.tally.defaulted.update(part.tally.defaulted)
            whole.unreadable = whole.unreadable or part.unreadable
            whole.failed = whole.failed or part.failed
        return whole


class _Run:
    """One ``meshc check``: its files read and judged in one process, or in several."""

    def __init__(self, args: argparse.Namespace, mesh: Any, data: dict[str, Any]):
        self.args, self.mesh, self.data = args, mesh, data
        self.offline = OfflineAdmission.of(mesh, getattr(args, "namespace", None))
        self.operation = getattr(args, "operation", "CREATE")
        # --policy narrows the run to admission policies; spec conflicts are none of them.
        self.conflicts = getattr(args, "conflicts", True) and not getattr(args, "policy", None)
        # What was read, kept to the end of the process when it ends with the run. A
        # forked child keeps its share's in its own copy, and exits without freeing it.
        self.kept = _LEFT_TO_EXIT if getattr(args, "process_ends", False) else []

    def in_turn(self) -> tuple[Part, list[Finding]]:
        """Every file in this process, each step's failure raised where it happens."""
        try:
            scan = scan_manifests(self.args.paths)
        except ManifestError as exc:
            raise UsageError(str(exc)) from None
        self.kept.append(scan)
        part = Part()
        part.read(scan)
        self._report_skipped(part)
        try:
            engine = create_engine(self.args.engine, self.data, opa_url=self.args.opa_url)
            findings = evaluate(
                engine, scan.manifests, self.operation, offline=self.offline, tally=part.tally
            )
        except (EngineError, ValueError) as exc:
            raise UsageError(str(exc)) from None
        if self.conflicts:
            findings += spec_conflicts(self.mesh, scan.manifests, self.offline.default_namespace)
        return part, findings

    def in_parallel(self) -> tuple[Part, list[Finding]] | None:
        """The files in shares, one a process (:mod:`meshc.policies.forked`), printing and
        raising what :meth:`in_turn` would; None when one process is to read them."""
        files = listed_files(self.args.paths)
        if files is None:
            return None
        workers = worker_count(getattr(self.args, "workers", None), len(files), self.args.engine)
        if workers < 2:
            return None
        try:
            engine = create_engine(self.args.engine, self.data, opa_url=self.args.opa_url)
            rendered = _rendered(self.mesh) if self.conflicts else None
        except Exception:  # noqa: BLE001 - in_turn() then fails at its own step, as it always has
            return None

        def judge(share: list[str]) -> Part:
            part = Part()
            try:
                scan = scan_files(share)
            except ManifestError as exc:
                part.unreadable = exc
                return part
            self.kept.append(scan)
            part.read(scan)
            try:
                part.findings = evaluate(
                    engine, scan.manifests, self.operation, offline=self.offline, tally=part.tally
                )
            except (EngineError, ValueError) as exc:
                part.failed = exc
                return part
            if rendered is not None:
                part.conflicts = _conflicts(
                    self.mesh, rendered, scan.manifests, self.offline.default_namespace
                )
            return part

        part = Part.merged(forked.fork_map(judge, shares(files, workers)))
        # What in_turn() stops at, in its order: reading, skipping, judging.
        if part.unreadable is not None:
            raise UsageError(str(part.unreadable))
        self._report_skipped(part)
        if part.failed is not None:
            raise UsageError(str(part.failed))
        return part, part.findings + part.conflicts

    def _report_skipped(self, part: Part) -> None:
        for skipped in part.skipped:
            print(skipped.format(), file=sys.stderr)
        if getattr(self.args, "strict", False) and part.skipped:
            raise UsageError(
                f"{len(part.skipped)} document(s) skipped, and --strict makes that "
                "an error: check only Kubernetes objects, or drop --strict"
            )


# Files a process reads at the least before another one is forked for them: fewer
# take less time than forking costs.
FILES_PER_WORKER = 64


def worker_count(requested: int | None, files: int, engine: str) -> int:
    """How many processes judge ``files`` files: ``requested`` (--workers), else one per
    :data:`FILES_PER_WORKER` files up to the CPUs there are; one for an engine outside
    the process (an OPA server), and where forking is not
    :func:`~meshc.policies.forked.available`."""
    if not ENGINES[engine].in_process or not forked.available():
        return 1
    if requested is not None:
        return max(1, min(requested, files))
    return max(1, min(forked.usable_cpus(), files // FILES_PER_WORKER))


def shares(files: list[str], count: int) -> list[list[str]]:
    """``files`` cut into ``count`` runs, in order, of about equal size in bytes."""
    sizes = []
    for name in files:
        try:
            sizes.append(os.stat(name).st_size)
        except OSError:
            sizes.append(0)  # reading it says why
    total = sum(sizes) or 1
    found: list[list[str]] = [[] for _ in range(count)]
    done = 0
    for name, size in zip(files, sizes, strict=True):
        # The share whose range of bytes holds the file's middle.
        found[min(count - 1, (2 * done + size) * count // (2 * total))].append(name)
        done += size
    return [share for share in found if share]


def spec_conflicts(mesh: Any, manifests: Sequence[Manifest], namespace: str) -> list[Finding]:
    """Manifests that define what the spec renders, or route what it routes
    (:mod:`meshc.policies.conflicts`)."""
    return _conflicts(mesh, _rendered(mesh), manifests, namespace)


def _rendered(mesh: Any) -> list[Any]:
    from meshc.compiler.targets import RenderOptions, render

    rendered, _ = render(mesh, RenderOptions(allow_lossy=True))
    return rendered


def _conflicts(
    mesh: Any, rendered: list[Any], manifests: Sequence[Manifest], namespace: str
) -> list[Finding]:
    from .conflicts import find_conflicts

    return find_conflicts(mesh, rendered, manifests, namespace)


@contextmanager
def _no_cyclic_gc() -> Iterator[None]:
    """The cyclic collector off for a run, and back as it was after it.

    Each manifest keeps its YAML nodes (for the line of a finding): hundreds of
    thousands of objects the collector would otherwise rescan on every pass,
    which made a run over 2,000 manifests twice as slow. They are acyclic;
    reference counting frees them.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def exit_code(decision: Decision) -> ExitCode:
    """1 when the decision denies (as the webhook would), 0 when it admits."""
    return ExitCode.OK if decision.allowed else ExitCode.FINDINGS


@dataclass
class Tally:
    """What happened to the objects besides their findings."""

    judged: int = 0
    exempt: Counter[str] = field(default_factory=Counter)  # exempt namespace -> objects
    defaulted: Counter[str] = field(default_factory=Counter)  # file -> objects without a namespace

    def defaulted_lines(self, namespace: str, explicit: bool) -> list[str]:
        """One line saying where objects without a namespace were judged (none when
        --namespace said it)."""
        if explicit or not self.defaulted:
            return []
        objects = sum(self.defaulted.values())
        files = sorted(self.defaulted)
        shown = ", ".join(files[:3]) + (f" and {len(files) - 3} more" if len(files) > 3 else "")
        return [
            (
                f"meshc check: {objects} object{'s' if objects != 1 else ''} without "
                f"metadata.namespace ({shown}) judged in namespace {namespace!r}, as `kubectl "
                "apply` without -n would place them; give --namespace NS to judge them where "
                "they are deployed"
            )
        ]


def evaluate(
    engine: PolicyEngine,
    manifests: Sequence[Manifest],
    operation: Any,
    *,
    offline: OfflineAdmission | None = None,
    tally: Tally | None = None,
) -> list[Finding]:
    """Every finding on ``manifests``, each on the line of the field it names.

    Without ``offline``, each object is judged as written (in ``default`` when it
    names no namespace), as before meshc check did what admission does first.
    """
    tally = tally if tally is not None else Tally()
    findings: list[Finding] = []
    for i, m in enumerate(manifests):
        uid = f"meshc-check-{i}"
        if offline is None:
            review = m.obj if m.is_review else admission_review(m.obj, operation, uid=uid)
            notices: tuple[Any, ...] = ()
        else:
            prepared = offline.prepare(m, operation, uid)
            if prepared.defaulted:
                tally.defaulted[m.file] += 1
            if prepared.review is None:
                tally.exempt[prepared.exempt] += 1
                continue
            review, notices = prepared.review, prepared.notices
        tally.judged += 1
        for v in (*notices, *engine.evaluate(review)):
            findings.append(Finding(m.file, m.line_of(v.path), v))
    return findings


def summary(part: Part, findings: Sequence[Finding], decision: Decision) -> str:
    """The last line of every run: what was read, judged and skipped, findings by policy."""
    tally = part.tally
    files = part.files - part.files_skipped
    parts = [
        (
            f"{tally.judged} object{'s' if tally.judged != 1 else ''} checked in {files} "
            f"file{'s' if files != 1 else ''}"
        )
    ]
    if part.skipped:
        parts.append(
            f"{len(part.skipped)} skipped ({part.files_skipped} whole "
            f"file{'s' if part.files_skipped != 1 else ''})"
        )
    exempt = sum(tally.exempt.values())
    if exempt:
        names = ", ".join(sorted(tally.exempt))
        parts.append(f"{exempt} in exempt namespaces not judged ({names})")
    by_policy = Counter(f.violation.policy for f in findings)
    if by_policy:
        parts.append(
            f"{len(findings)} finding{'s' if len(findings) != 1 else ''}: "
            + ", ".join(f"{p} {n}" for p, n in sorted(by_policy.items()))
        )
    else:
        parts.append("no findings")
    verdict = "denied" if not decision.allowed else "admitted"
    return f"meshc check: {'; '.join(parts)}; {verdict}"
