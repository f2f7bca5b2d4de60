"""consul-k8s's own sample application, static-server and static-client (tests/upstream/
consul-static, provenance in tests/upstream/SOURCES.md), with a spec that meshes it.

Rendered for Consul, the spec says what upstream's own intention says; checked, the
unmodified Deployments are admitted, and their pods get what consul-k8s's injector
reads before it sees them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from meshc.cli import main
from meshc.compiler.loader import load_mesh
from meshc.compiler.targets import RenderOptions, render
from meshc.policies.mutation import pod_markers_of, with_pod_markers
from support.paths import REPO
from support.specs import write_spec

STATIC = REPO / "tests" / "upstream" / "consul-static"
SPEC = """\
apiVersion: meshc.io/v1alpha1
kind: Mesh
metadata: {name: static}
spec:
  provider: consul
  namespaces:
    - name: static
  services:
    - name: static-server
      namespace: static
      selector: {app: static-server}
      service: {manage: false}     # upstream's own Service
      ports:
        - {name: http, port: 80, targetPort: 8080, protocol: http}
      allow:
        - fromServiceAccounts: [static/static-client]
    - name: static-client
      namespace: static
      selector: {app: static-client}
      service: {manage: false}
      ports:
        - {name: http, port: 80, targetPort: 80, protocol: http}
"""


def upstream(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((STATIC / name).read_text())
    return loaded


@pytest.fixture
def spec(tmp_path: Path) -> str:
    return str(write_spec(tmp_path, SPEC))


def test_the_render_allows_what_upstreams_intention_allows_and_denies_the_rest(spec: str) -> None:
    objects, report = render(load_mesh(spec), RenderOptions.of(allow_lossy=False), "consul")
    # The app's own Services stay the app's.
    assert [o for o in objects if o["kind"] == "Service"] == []
    (intentions,) = [o for o in objects if o["kind"] == "ServiceIntentions"]
    theirs = upstream("intention/intention.yaml")["spec"]
    assert intentions["spec"]["destination"] == theirs["destination"]
    allowed = [s for s in intentions["spec"]["sources"] if s["action"] == "allow"]
    assert allowed == theirs["sources"]
    assert {"name": "*", "action": "deny"} in intentions["spec"]["sources"]
    # A service account is a Consul service name only under Consul's ACLs: said, not hidden.
    assert [p.path for p in report.problems] == ["spec.services[0].allow[0].fromServiceAccounts[0]"]
    defaults = {o["metadata"]["name"]: o["spec"] for o in objects if o["kind"] == "ServiceDefaults"}
    assert defaults == {
        "static-server": {"protocol": "http", "mutualTLSMode": "strict"},
        "static-client": {"protocol": "http", "mutualTLSMode": "strict"},
    }


def test_the_unmodified_deployments_are_admitted(
    spec: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [
            "check",
            "--spec",
            spec,
            "-n",
            "static",
            str(STATIC / "static-server"),
            str(STATIC / "static-client"),
        ]
    )
    captured = capsys.readouterr()
    assert (code, captured.out) == (0, "")
    assert captured.err.splitlines()[-1] == (
        "meshc check: 6 objects checked in 6 files; no findings; admitted"
    )


@pytest.mark.parametrize(("app", "port"), [("static-server", "8080"), ("static-client", "80")])
def test_their_pods_get_what_consuls_injector_reads(spec: str, app: str, port: str) -> None:
    template = upstream(f"{app}/deployment.yaml")["spec"]["template"]
    pod = {"apiVersion": "v1", "kind": "Pod", **template}
    marked = with_pod_markers(pod, "static", pod_markers_of(load_mesh(spec)))
    assert marked["metadata"]["annotations"] == {
        "consul.hashicorp.com/connect-inject": "true",
        "consul.hashicorp.com/kubernetes-service": app,
        "consul.hashicorp.com/connect-service-port": port,
    }
    assert marked["spec"] == pod["spec"]


def test_a_pod_manifest_is_judged_as_admission_marks_it_with_notices(
    spec: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    template = upstream("static-server/deployment.yaml")["spec"]["template"]
    manifest = tmp_path / "pod.yaml"
    manifest.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "Pod", **template}))
    code = main(["check", "--spec", spec, "-n", "static", str(manifest)])
    out = capsys.readouterr().out.splitlines()
    assert code == 0
    assert [line.split(" notice: ", 1)[1].split('"]: ')[0] + '"]' for line in out] == [
        f'[meshc:mutation] Pod static/static-server: metadata.annotations["{key}"]'
        for key in (
            "consul.hashicorp.com/connect-inject",
            "consul.hashicorp.com/kubernetes-service",
            "consul.hashicorp.com/connect-service-port",
        )
    ]
