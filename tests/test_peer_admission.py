"""bench/peers/admission.py's own decisions, without the servers: how Kyverno is started
out of cluster, where each peer configuration is driven, and what the table compares.

The servers themselves are never run here (the peers are built only by hand,
bench/peers/build.sh); these are the pure parts the bench's numbers rest on.
"""

from __future__ import annotations

import sys
from pathlib import Path

from support.paths import REPO

sys.path.insert(0, str(REPO / "bench" / "peers"))
sys.path.insert(0, str(REPO / "bench"))

from admission import ENGINES, Port, Series, kyverno_argv, markdown, meshc_policy, ratio, rows

from loadgen import CHUNKED, Result, dechunk, parse_head

# What the release's install manifest gives the admission controller (abridged).
MANIFEST_ARGS = [
    "--caSecretName=kyverno-svc.kyverno.svc.kyverno-tls-ca",
    "--tlsSecretName=kyverno-svc.kyverno.svc.kyverno-tls-pair",
    "--servicePort=443",
    "--webhookServerPort=9443",
    "--admissionReports=true",
    "--generateValidatingAdmissionPolicy=true",
    "--omitEvents=PolicyApplied,PolicySkipped",
    "--v=2",
]


def test_kyverno_keeps_the_release_arguments_and_changes_only_what_out_of_cluster_needs() -> None:
    argv = kyverno_argv(Path("/bin/kyverno"), MANIFEST_ARGS, 8443, 8000, Path("/k/config"))
    flags = dict(a.split("=", 1) for a in argv[1:])
    assert argv[0] == "/bin/kyverno"
    assert len(flags) == len(argv) - 1  # each flag once: a changed one replaces the release's
    assert flags["--serverIP"] == "127.0.0.1:8443" == f"127.0.0.1:{flags['--webhookServerPort']}"
    assert flags["--kubeconfig"] == "/k/config"
    assert flags["--admissionReports"] == "false"
    assert flags["--generateValidatingAdmissionPolicy"] == "false"
    # Deny events stay as the release has them; so do its secrets and log level.
    for kept in ("--omitEvents", "--caSecretName", "--tlsSecretName", "--v", "--servicePort"):
        assert f"{kept}={flags[kept]}" in MANIFEST_ARGS


def test_each_peer_configuration_is_driven_where_the_api_server_would_send_its_reviews() -> None:
    one = {engine: Port.load(engine, "one") for engine in ENGINES}
    assert one["rego"].path == one["cel"].path == "/v1/admit"
    assert one["clusterpolicy"].path == "/validate/fail"
    assert one["validatingpolicy"].path == "/vpol/meshc-opt-out"
    # Gatekeeper's templates stay installed; only the measured objects come and go.
    assert [t["kind"] for t in one["rego"].installed] == ["ConstraintTemplate"]
    assert [m["kind"] for m in one["clusterpolicy"].measured] == ["ClusterPolicy"]
    assert not one["validatingpolicy"].installed


def test_a_denial_counts_only_when_it_names_the_measured_ports_own_objects() -> None:
    cpol, vpol = Port.load("clusterpolicy", "one"), Port.load("validatingpolicy", "one")
    cpol_says = "resource Pod/mesh-demo/p was blocked due to the following policies \n\nmeshc-opt-out:\n  pod-opt-out-label: 'opt-out: ...'\n"
    vpol_says = 'Policy meshc-opt-out failed: opt-out: Pod mesh-demo/p: pod labels["sidecar.istio.io/inject"] ...'
    assert cpol.denies(cpol_says) and not cpol.denies(vpol_says)
    assert vpol.denies(vpol_says) and not vpol.denies(cpol_says)
    rego = Port.load("rego", "one")
    assert rego.denies("[meshc-opt-out] opt-out: Pod mesh-demo/p: ...")
    assert not Port.load("cel", "one").denies("[meshc-opt-out] opt-out: Pod mesh-demo/p: ...")


def test_meshc_runs_the_one_policy_or_every_rule() -> None:
    assert meshc_policy("one") == ["--policy", "injection-required"]
    assert meshc_policy("full") == []


def series(server: str, engine: str, rule_set: str, rate: float, connections: int = 4) -> Series:
    run = Result(latencies=[0.001] * int(rate), elapsed=1.0)
    return Series(server, engine, connections, [run], [0.0005], rule_set=rule_set)


def test_the_ratio_is_to_the_best_peer_of_the_same_rule_set_and_connections() -> None:
    table = [
        series("meshc (wasm)", "wasm", "one", 3000),
        series("Gatekeeper", "rego", "one", 1000),
        series("Kyverno", "validatingpolicy", "one", 1500),
        series("meshc (wasm)", "wasm", "full", 1200),
        series("Gatekeeper", "cel", "full", 600),
        series("meshc (wasm)", "wasm", "full", 1000, connections=16),
    ]
    assert [ratio(s, table) for s in table] == ["2.00x", "0.67x", "1.00x", "2.00x", "1.00x", "–"]
    rows = markdown(table, "heading").splitlines()
    assert rows[2].endswith("| rate / best peer's |")
    assert rows[4] == (
        "| one | meshc | injection-required (wasm) | 4 | 3000 (3000–3000) | 1.00 ms | "
        "1.00 ms | 0.50 ms | 0 | 2.00x |"
    )
    assert rows[7].startswith("| full | meshc | every rule (wasm) | 4 |")
    assert rows[-1].endswith("| 0 | – |")  # no peer at 16 connections: nothing to compare


def test_the_load_generator_reads_a_chunked_answer_whole_and_only_once_complete() -> None:
    assert parse_head(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked") == (200, CHUNKED)
    assert parse_head(b"HTTP/1.1 200 OK\r\nContent-Length: 12") == (200, 12)
    wire = b'6\r\n{"a":1\r\n3;ext=1\r\n, 2\r\n1\r\n}\r\n0\r\n\r\n'
    assert dechunk(wire) == b'{"a":1, 2}'
    assert all(dechunk(wire[:cut]) is None for cut in range(len(wire)))
    assert dechunk(b"0\r\nTrailer: x\r\n\r\n") == b""


def test_the_json_rows_are_what_compare_py_reads() -> None:
    (row,) = rows([series("Kyverno", "clusterpolicy", "full", 800, connections=16)])
    assert {k: row[k] for k in ("rule_set", "server", "config", "connections", "rate")} == {
        "rule_set": "full",
        "server": "Kyverno",
        "config": "ClusterPolicy",
        "connections": 16,
        "rate": 800.0,
    }
    assert row["p99"] == 0.001  # seconds
    assert rows([series("meshc (wasm)", "wasm", "one", 10)])[0]["server"] == "meshc"
