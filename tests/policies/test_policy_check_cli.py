"""`meshc check`: exit codes, input handling and the four output formats."""

from __future__ import annotations

import io
import json
import subprocess
from collections.abc import Iterable
from pathlib import Path

import pytest

from meshc.cli import main
from meshc.exitcodes import ExitCode
from meshc.policies import check as check_module
from meshc.policies.engine import Decision, decide
from meshc.policies.report import FORMATS, Finding
from meshc.policies.violations import Mode, Violation, format_message
from meshc.webhook.decision import judge
from support.examples import render_flags
from support.paths import EXAMPLES, REPO
from support.policy_samples import SAMPLES, SPECS

ISTIO = str(SPECS / "istio.yaml")
DENIED = SAMPLES / "injection-required" / "denied"
OPT_OUT = str(DENIED / "istio-opt-out-label.yaml")


def check(*argv: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(["check", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_text_output_is_file_line_and_the_webhook_message(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = check("--spec", ISTIO, OPT_OUT, capsys=capsys)
    assert code == 1
    # The line of the label that opts out, not the start of the object.
    assert out == (
        f"{OPT_OUT}:11: [meshc:injection-required] Deployment mesh-demo/opt-out-label: "
        'spec.template.metadata.labels["sidecar.istio.io/inject"]: opts the pod out of sidecar injection: "false"; '
        'remove it or set it to "true": every pod in a meshed namespace runs the sidecar; '
        "or, to admit it, add to spec.admission.exceptions: {name: opt-out-label-injection-required, "
        "policies: [injection-required], namespaces: [mesh-demo], "
        "kinds: [Deployment, ReplicaSet, Pod], names: [opt-out-label, 'opt-out-label-*'], "
        "reason: <why>}\n"
    )


def test_a_directory_is_searched_and_line_numbers_point_at_each_document(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = Path(OPT_OUT).read_text()
    (tmp_path / "nested").mkdir()
    (tmp_path / "nested" / "two.yml").write_text(
        "---\n" + bad.replace("opt-out-label", "a") + "---\n" + bad
    )
    text = (tmp_path / "nested" / "two.yml").read_text().splitlines()
    labels = [i + 1 for i, line in enumerate(text) if "sidecar.istio.io/inject" in line]
    assert len(labels) == 2
    (tmp_path / "notes.txt").write_text("not a manifest")
    code, out, _ = check("--spec", ISTIO, str(tmp_path), capsys=capsys)
    assert code == 1
    assert [line.split(": ")[0] for line in out.splitlines()] == [
        f"{tmp_path}/nested/two.yml:{labels[0]}",
        f"{tmp_path}/nested/two.yml:{labels[1]}",
    ]


def test_stdin(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(Path(OPT_OUT).read_text()))
    code, out, _ = check("--spec", ISTIO, "-", capsys=capsys)
    assert code == 1 and out.startswith("<stdin>:11: [meshc:injection-required]")


@pytest.mark.parametrize(("mode", "prefix"), [("warn", "warning"), ("audit", "notice")])
def test_warn_and_audit_mode_findings_are_printed_but_do_not_fail(
    mode: str, prefix: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = tmp_path / "mesh.yaml"
    spec.write_text(
        Path(ISTIO)
        .read_text()
        .replace("  admission:\n", f"  admission:\n    policies: {{injection-required: {mode}}}\n")
    )
    code, out, _ = check("--spec", str(spec), OPT_OUT, capsys=capsys)
    assert code == 0 and f": {prefix}: [meshc:injection-required]" in out


def finding(policy: str, mode: Mode) -> Violation:
    return Violation(
        policy, "Pod", "mesh-demo", "web", "spec", f"broken by {policy}", "fix it", mode=mode
    )


class StandIn:
    """An engine that finds the same violations in every object."""

    def __init__(self, found: list[Violation]):
        self.found = found

    def evaluate(self, review: object) -> list[Violation]:
        return list(self.found)


MODE_SETS: list[tuple[Mode, ...]] = [
    (),
    ("warn",),
    ("audit",),
    ("warn", "audit"),
    ("enforce",),
    ("enforce", "warn"),
    ("enforce", "audit"),
    ("enforce", "warn", "audit"),
]


@pytest.mark.parametrize("modes", MODE_SETS, ids=lambda m: "+".join(m) or "none")
def test_the_exit_code_is_the_webhook_s_decision(
    modes: tuple[Mode, ...], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Warn and audit findings exit 0, as the webhook admits them; an enforced one exits 1."""
    engine = StandIn([finding(f"policy-{mode}", mode) for mode in modes])
    monkeypatch.setattr(check_module, "create_engine", lambda *args, **kwargs: engine)
    decisions: list[Decision] = []

    def spy(violations: Iterable[Violation]) -> Decision:
        decisions.append(decide(violations))
        return decisions[-1]

    monkeypatch.setattr(check_module, "decide", spy)
    code, out, _ = check("--spec", ISTIO, OPT_OUT, capsys=capsys)
    assert len(out.splitlines()) == len(modes)
    admitted = judge(engine, {"request": {}}).allowed
    assert code == (ExitCode.OK if admitted else ExitCode.FINDINGS)
    assert code == (ExitCode.FINDINGS if "enforce" in modes else ExitCode.OK)
    # From the one decision, over what was printed.
    assert [decisions[-1]] == decisions and decisions[0] == decide(engine.found)
    assert check_module.exit_code(decisions[0]) == code


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--spec", ISTIO, "missing.yaml"], "missing.yaml: no such file or directory"),
        (["--spec", "missing-spec.yaml", OPT_OUT], "missing-spec.yaml"),
    ],
)
def test_missing_input_exits_2_with_a_clear_message(
    argv: list[str], expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = check(*argv, capsys=capsys)
    assert (code, out) == (2, "")
    assert expected in err and "Traceback" not in err


def test_bad_yaml_names_file_and_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("apiVersion: v1\nkind: Pod\nmetadata: {name: [\n")
    code, _, err = check("--spec", ISTIO, str(bad), capsys=capsys)
    assert code == 2 and f"{bad}:" in err and "not valid YAML" in err


def test_a_document_that_is_not_an_object_is_skipped_and_an_error_only_with_strict(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("kind: Pod\n")
    code, out, err = check("--spec", ISTIO, str(bad), capsys=capsys)
    assert (code, out) == (0, "")
    assert f"skipped {bad}:1: not a Kubernetes object (no apiVersion)" in err
    code, _, err = check("--spec", ISTIO, "--strict", str(bad), capsys=capsys)
    assert code == 2 and "--strict" in err


def test_an_invalid_spec_exits_2_with_its_problems(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = tmp_path / "mesh.yaml"
    spec.write_text(Path(ISTIO).read_text().replace("provider: istio", "provider: cilium"))
    code, _, err = check("--spec", str(spec), OPT_OUT, capsys=capsys)
    assert code == 2 and f"{spec}:" in err and "provider" in err


FINDINGS = [
    Finding(
        "a.yaml",
        3,
        Violation(
            "mtls-strict",
            "PeerAuthentication",
            "ns",
            "p",
            "spec.mtls.mode",
            'bad: "DISABLE"',
            "fix, it",
        ),
    ),
    Finding(
        "b.yaml",
        1,
        Violation(
            "allowed-namespaces", "Namespace", "", "x", "metadata", "problem: 100%", "", mode="warn"
        ),
    ),
]


def test_text_and_json_carry_identical_messages() -> None:
    text_messages = [
        line.split(": ", 1)[1].removeprefix("warning: ")
        for line in FORMATS["text"](FINDINGS).splitlines()
    ]
    json_messages = [row["message"] for row in json.loads(FORMATS["json"](FINDINGS))]
    assert text_messages == json_messages == [format_message(f.violation) for f in FINDINGS]


def test_github_annotations_escape_and_map_modes_to_levels() -> None:
    assert FORMATS["github"](FINDINGS).splitlines() == [
        (
            "::error file=a.yaml,line=3,title=meshc%3Amtls-strict::[meshc:mtls-strict] PeerAuthentication ns/p: "
            'spec.mtls.mode: bad: "DISABLE"; fix, it; or, to admit it, add to '
            "spec.admission.exceptions: {name: p-mtls-strict, policies: [mtls-strict], "
            "namespaces: [ns], kinds: [PeerAuthentication], names: [p], paths: ['spec.mtls.mode'], "
            "reason: <why>}"
        ),
        (
            "::warning file=b.yaml,line=1,title=meshc%3Aallowed-namespaces::[meshc:allowed-namespaces] Namespace x: "
            "metadata: problem: 100%25; or, to admit it, add to spec.admission.exceptions: "
            "{name: x-allowed-namespaces, policies: [allowed-namespaces], namespaces: [x], "
            "kinds: [Namespace], names: [x], paths: ['metadata'], reason: <why>}"
        ),
    ]


def test_sarif_is_valid_against_its_schema_shape() -> None:
    log = json.loads(FORMATS["sarif"](FINDINGS))
    run = log["runs"][0]
    assert log["version"] == "2.1.0"
    assert [r["id"] for r in run["tool"]["driver"]["rules"]] == [
        "allowed-namespaces",
        "mtls-strict",
    ]
    assert [(r["ruleId"], r["level"], r["ruleIndex"]) for r in run["results"]] == [
        ("mtls-strict", "error", 1),
        ("allowed-namespaces", "warning", 0),
    ]
    assert run["results"][0]["locations"][0]["physicalLocation"]["region"] == {"startLine": 3}
    assert run["results"][0]["message"]["text"] == format_message(FINDINGS[0].violation)


def test_no_findings_print_nothing_in_text_and_an_empty_list_in_json() -> None:
    assert FORMATS["text"]([]) == "" and json.loads(FORMATS["json"]([])) == []


EXAMPLE_SPECS = sorted(EXAMPLES.glob("*/mesh.yaml"))


@pytest.mark.parametrize("spec", EXAMPLE_SPECS, ids=[p.parent.name for p in EXAMPLE_SPECS])
def test_the_rendered_output_of_every_example_passes(spec: Path) -> None:
    meshc = str(REPO / ".venv" / "bin" / "meshc")
    rendered = subprocess.run(
        [meshc, "render", "--spec", str(spec), *render_flags(spec.parent.name)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "kind:" in rendered
    checked = subprocess.run(
        [meshc, "check", "--spec", str(spec), "-"],
        check=False,
        input=rendered,
        capture_output=True,
        text=True,
    )
    assert (checked.returncode, checked.stdout) == (0, "")
    assert checked.stderr.startswith("meshc check: ") and "no findings; admitted" in checked.stderr
