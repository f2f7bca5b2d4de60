"""The allowed and denied samples kept beside each policy, through `meshc check`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from meshc import providers
from meshc.cli import main
from meshc.policies.manifests import load_manifests
from support.policy_samples import sample_files, spec_for

ALLOWED = [p for p in sample_files() if p.parent.name == "allowed"]
DENIED = [p for p in sample_files() if p.parent.name == "denied"]


def _ids(paths: list[Path]) -> list[str]:
    return [f"{p.parent.parent.name}/{p.name}" for p in paths]


def test_every_policy_has_allowed_and_denied_samples_for_every_mesh() -> None:
    for policy in ("injection-required", "mtls-strict", "allowed-namespaces"):
        for kind in ("allowed", "denied"):
            names = {
                p.name.split("-")[0]
                for p in sample_files()
                if p.parent.parent.name == policy and p.parent.name == kind
            }
            assert names == set(providers.names()), (policy, kind)


@pytest.mark.parametrize("sample", ALLOWED, ids=_ids(ALLOWED))
def test_allowed_sample_is_admitted(sample: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        [
            "check",
            "--no-conflicts",
            "--format",
            "json",
            "--spec",
            str(spec_for(sample)),
            str(sample),
        ]
    )
    rows = json.loads(capsys.readouterr().out)
    # At most a notice that the webhook's mutation adds a marker the manifest lacks.
    assert (code, [r["message"] for r in rows if r["policy"] != "mutation"]) == (0, [])


@pytest.mark.parametrize("sample", DENIED, ids=_ids(DENIED))
def test_denied_sample_is_denied_by_its_policy(
    sample: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    policy = sample.parent.parent.name
    code = main(
        [
            "check",
            "--no-conflicts",
            "--format",
            "json",
            "--spec",
            str(spec_for(sample)),
            str(sample),
        ]
    )
    rows = json.loads(capsys.readouterr().out)
    assert code == 1
    # Every object in the file is denied, each by the policy the sample belongs to, on a
    # line of the object (the offending field's).
    objects = load_manifests([str(sample)])
    starts = sorted(m.line for m in objects)
    hit = {
        max(start for start in starts if start <= row["line"])
        for row in rows
        if row["policy"] == policy
    }
    assert hit == set(starts)
