"""``meshc import`` on the command line: the spec on stdout or in a file, what was left on
stderr as file:line: kind ns/name: field: why, and the exit code saying which (0 all
taken, 1 something left, 2 bad input, never a traceback)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from meshc.cli import main
from meshc.importer import import_manifests
from meshc.policies.manifests import parse_manifests

EXAMPLE = Path(__file__).parents[2] / "examples" / "quickstart" / "mesh.yaml"
SERVICE = """apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: 8080}]
"""


def _rendered(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    out = tmp_path / "render"
    assert main(["render", "-s", str(EXAMPLE), "-o", str(out)]) == 0
    capsys.readouterr()
    return out


def test_a_render_imports_with_exit_0_and_the_spec_validates(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rendered = _rendered(tmp_path, capsys)
    spec = tmp_path / "mesh.yaml"
    assert main(["import", str(rendered), "-o", str(spec)]) == 0
    err = capsys.readouterr().err
    # The render's kustomization.yaml is skipped with a line, as meshc check does.
    assert "skipped" in err and "kustomization.yaml" in err
    assert main(["validate", "-s", str(spec)]) == 0
    text = spec.read_text(encoding="utf-8")
    assert text.startswith("# A Mesh spec written by `meshc import`")
    assert "# from " in text


def test_what_is_left_goes_to_stderr_and_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "in.yaml"
    path.write_text(
        SERVICE
        + """---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: web, namespace: shop}
spec:
  hosts: [web]
  http:
  - route: [{destination: {host: web}}]
    corsPolicy: {allowOrigins: [{exact: a}]}
""",
        encoding="utf-8",
    )
    assert main(["import", str(path)]) == 1
    out, err = capsys.readouterr()
    assert yaml.safe_load(out)["kind"] == "Mesh"
    assert (
        f"{path}:15: VirtualService shop/web: spec.http[0].corsPolicy: not expressible in "
        "a Mesh spec: the spec has no CORS policy" in err
    )


def test_stdin_and_the_namespace_of_objects_that_name_none(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO(SERVICE.replace(", namespace: shop", "")))
    assert main(["import", "-", "-n", "shop", "--name", "mine"]) == 0
    spec = yaml.safe_load(capsys.readouterr().out)
    assert spec["metadata"]["name"] == "mine"
    assert spec["spec"]["services"][0]["namespace"] == "shop"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("kind: [", "not valid YAML"),
        (
            SERVICE + "---\napiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: "
            "{name: web, namespace: shop}\nspec: {hosts: [web], http: [{route: 3}]}\n",
            "malformed",
        ),
    ],
)
def test_bad_input_exits_2_without_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, message: str
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    assert main(["import", str(path)]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert str(path) in err


def test_a_missing_path_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["import", "no/such/dir"]) == 2
    assert "no such file or directory" in capsys.readouterr().err


# Any value in any field of any imported kind: a finding, a malformed object, never a crash.
_KINDS = [
    ("networking.istio.io/v1", "VirtualService"),
    ("networking.istio.io/v1", "DestinationRule"),
    ("networking.istio.io/v1", "Gateway"),
    ("networking.istio.io/v1", "ServiceEntry"),
    ("security.istio.io/v1", "AuthorizationPolicy"),
    ("security.istio.io/v1", "PeerAuthentication"),
    ("telemetry.istio.io/v1", "Telemetry"),
    ("gateway.networking.k8s.io/v1", "HTTPRoute"),
    ("gateway.networking.k8s.io/v1", "GRPCRoute"),
    ("gateway.networking.k8s.io/v1", "Gateway"),
    ("policy.linkerd.io/v1beta3", "Server"),
    ("policy.linkerd.io/v1alpha1", "AuthorizationPolicy"),
    ("policy.linkerd.io/v1alpha1", "MeshTLSAuthentication"),
    ("policy.linkerd.io/v1beta1", "ServerAuthorization"),
    ("linkerd.io/v1alpha2", "ServiceProfile"),
    ("split.smi-spec.io/v1alpha2", "TrafficSplit"),
    ("v1", "Service"),
    ("v1", "Namespace"),
]
_leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 70000),
    st.text(max_size=8),
    st.sampled_from(["web", "v1", "web-v1", "*", "5xx", "STRICT", "Service"]),
)
_values = st.recursive(
    _leaf,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(
            st.sampled_from(
                [
                    "host",
                    "hosts",
                    "http",
                    "route",
                    "destination",
                    "subset",
                    "match",
                    "uri",
                    "headers",
                    "subsets",
                    "name",
                    "labels",
                    "rules",
                    "from",
                    "source",
                    "principals",
                    "selector",
                    "matchLabels",
                    "parentRefs",
                    "backendRefs",
                    "kind",
                    "port",
                    "weight",
                    "matches",
                    "path",
                    "type",
                    "value",
                    "filters",
                    "servers",
                    "tls",
                    "mtls",
                    "mode",
                    "service",
                    "backends",
                    "routes",
                    "condition",
                    "identities",
                    "podSelector",
                    "targetRef",
                    "ports",
                    "requiredAuthenticationRefs",
                    "client",
                    "meshTLS",
                    "timeout",
                    "retries",
                    "fault",
                    "tracing",
                    "accessLogging",
                    "metrics",
                    "listeners",
                    "protocol",
                    "number",
                ]
            ),
            inner,
            max_size=4,
        ),
    ),
    max_leaves=12,
)


@settings(max_examples=150, deadline=None)
@given(
    kind=st.sampled_from(_KINDS), spec=_values, other=st.sampled_from(_KINDS), other_spec=_values
)
def test_any_value_in_any_field_never_crashes_the_importer(
    kind: tuple[str, str], spec: object, other: tuple[str, str], other_spec: object
) -> None:
    docs = [
        {"apiVersion": a, "kind": k, "metadata": {"name": "web", "namespace": "shop"}, "spec": s}
        for (a, k), s in ((kind, spec), (other, other_spec))
    ]
    text = SERVICE + "---\n" + yaml.safe_dump_all(docs)
    result = import_manifests(parse_manifests(text, "fuzz.yaml"))
    for line in result.malformed:
        assert line.startswith("fuzz.yaml:")
