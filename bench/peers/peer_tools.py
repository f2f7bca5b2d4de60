"""The offline tools compared: how each is run on a directory of manifests, and how its findings are read.

meshc runs from this checkout; the peers are the binaries bench/peers/build.sh
puts in ``$PEERS_DIR/bin`` (default ``.bench-tools/bin``). A peer takes part in
a rule set only where its port of that set exists under
``bench/peers/policies/<rule set>/`` (bench/peers/README.md lists what is
ported).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import peer_findings as findings

REPO = Path(__file__).resolve().parents[2]
POLICIES = REPO / "bench" / "peers" / "policies"
# The spec that meshes mesh-demo, the corpus's namespace (bench/peers/peer_corpus.py).
SPEC = REPO / "examples" / "quickstart" / "mesh.yaml"
# The meshc policy the one-rule set is (the injection opt-out is one of its rules).
ONE_RULE_POLICY = "injection-required"


def peers_bin() -> Path:
    return Path(os.environ.get("PEERS_DIR", REPO / ".bench-tools")) / "bin"


@dataclass(frozen=True)
class Tool:
    name: str
    binary: str  # the peer's binary under peers_bin(); "" for meshc
    policy: str  # the port's file or directory under policies/<rule set>/; "" for meshc
    argv: Callable[[Path, Path, str], list[str]]  # (binary or policy path, corpus dir, rule set)
    parse: Callable[[str], set[findings.Finding]]

    def policy_path(self, rule_set: str) -> Path | None:
        if not self.policy:
            return None
        return POLICIES / rule_set / self.policy

    def available(self, rule_set: str) -> str:
        """Why the tool cannot run ``rule_set`` here ("" when it can)."""
        if self.binary and not (peers_bin() / self.binary).is_file():
            return f"{self.binary} is not built (bench/peers/build.sh)"
        path = self.policy_path(rule_set)
        if path is not None and not path.exists():
            return f"no port of the {rule_set!r} rule set ({path.relative_to(REPO)})"
        return ""

    def environment(self, pycache: Path) -> dict[str, str] | None:
        """The environment of a run: meshc's is its own, with bytecode caching on (into
        ``pycache``), as a pip install leaves it; None (inherited) for the peers."""
        if self.binary:
            return None
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env["PYTHONPYCACHEPREFIX"] = str(pycache)
        return env

    def command(self, corpus_dir: Path, rule_set: str) -> list[str]:
        if not self.binary:
            return self.argv(SPEC, corpus_dir, rule_set)
        policy = self.policy_path(rule_set)
        assert policy is not None
        return [str(peers_bin() / self.binary), *self.argv(policy, corpus_dir, rule_set)]


def _meshc(engine: str) -> Callable[[Path, Path, str], list[str]]:
    def argv(spec: Path, corpus_dir: Path, rule_set: str) -> list[str]:
        only = ["--policy", ONE_RULE_POLICY] if rule_set == "one" else []
        return [
            sys.executable, "-m", "meshc.cli", "check", "--spec", str(spec),
            "--engine", engine, "--format", "json", *only, str(corpus_dir),
        ]  # fmt: skip

    return argv


def _conftest(policy: Path, corpus_dir: Path, rule_set: str) -> list[str]:
    return ["test", "--no-color", "--output", "json", "--policy", str(policy), str(corpus_dir)]


def _gator(policy: Path, corpus_dir: Path, rule_set: str) -> list[str]:
    return ["test", "--output", "json", "--filename", str(policy), "--filename", str(corpus_dir)]


def _kyverno(policy: Path, corpus_dir: Path, rule_set: str) -> list[str]:
    return ["apply", str(policy), "--resource", str(corpus_dir), "--policy-report"]


TOOLS: tuple[Tool, ...] = (
    Tool("meshc (wasm)", "", "", _meshc("wasm"), findings.from_meshc_json),
    Tool("meshc (embedded)", "", "", _meshc("embedded"), findings.from_meshc_json),
    Tool("conftest", "conftest", "conftest", _conftest, findings.from_conftest_json),
    Tool("gator (Rego)", "gator", "gatekeeper-rego.yaml", _gator, findings.from_gator_json),
    Tool("gator (CEL)", "gator", "gatekeeper-cel.yaml", _gator, findings.from_gator_json),
    Tool(
        "kyverno apply (ClusterPolicy)",
        "kyverno-cli",
        "kyverno-clusterpolicy.yaml",
        _kyverno,
        findings.from_kyverno_report,
    ),
    Tool(
        "kyverno apply (ValidatingPolicy)",
        "kyverno-cli",
        "kyverno-validatingpolicy.yaml",
        _kyverno,
        findings.from_kyverno_report,
    ),
)

# Exit codes that mean "ran and judged" (0: nothing found, 1: findings).
JUDGED = (0, 1)
