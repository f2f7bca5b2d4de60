"""How long `meshc audit` takes per 1,000 stored objects, against a local kube-apiserver.

Starts etcd and kube-apiserver (the pinned builds in $MESHC_TOOLS_BIN, as the
tests do), stores N Pods as Istio's injector leaves them, one in ten without
its proxy, in a meshed namespace with no webhook registered, then runs the
audit in-process: listing (500 per page), judging each as an UPDATE with the
default wasm engine, and, separately, writing the policy reports. Prints the
best of ``--repeat`` runs, wall and CPU, and the time per 1,000 objects.

    MESHC_TOOLS_BIN=.tools/bin python bench/bench_audit.py [--objects 1000 4000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import copy
import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from meshc.audit.audit import audit
from meshc.audit.cluster import connect
from meshc.audit.reports import OPENREPORTS, sync_reports
from meshc.compiler.loader import load_mesh
from meshc.policies.data import policy_data
from meshc.policies.engine import create_engine
from support.api_server import inject
from support.apply import request
from support.kube import running_apiserver

NAMESPACE = "bench-audit"
TOOLS = Path(os.environ.get("MESHC_TOOLS_BIN", REPO / ".tools" / "bin"))
CRDS = Path(os.environ.get("MESHC_SHARED", REPO.parent / "shared")) / "crds" / "reports"


def pod(i: int) -> dict:
    obj = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": f"web-{i:05d}", "namespace": NAMESPACE, "labels": {"app": "web"}},
        "spec": {"containers": [{"name": "web", "image": "hashicorp/http-echo:1.0"}]},
    }
    return obj if i % 10 == 0 else inject(copy.deepcopy(obj), "istio")


def store(api, count: int, start: int) -> None:
    def post(i: int) -> None:
        status, data = request(api, "POST", f"/api/v1/namespaces/{NAMESPACE}/pods", body=pod(i))
        assert status == 201, data

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(post, range(start, start + count)))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--objects", type=int, nargs="+", default=[1000, 4000])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    spec_text = (REPO / "examples" / "quickstart" / "mesh.yaml").read_text()
    spec_text = spec_text.replace("mesh-demo", NAMESPACE)
    mesh = load_mesh("bench.yaml", text=spec_text)
    engine = create_engine("wasm", policy_data(mesh))
    with (
        tempfile.TemporaryDirectory() as work,
        running_apiserver(TOOLS / "kube-apiserver", TOOLS / "etcd", Path(work)) as server,
        server.api_client() as api,
    ):
        import yaml

        for path in sorted(CRDS.rglob("*.yaml")):
            for crd in yaml.safe_load_all(path.read_text()):
                request(
                    api, "POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", body=crd
                )
        for name in (NAMESPACE,):
            request(
                api,
                "POST",
                "/api/v1/namespaces",
                body={"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}},
            )
        request(
            api,
            "POST",
            f"/api/v1/namespaces/{NAMESPACE}/serviceaccounts",
            body={"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default"}},
        )
        time.sleep(3)  # the CRDs become Established
        stored = 0
        for count in args.objects:
            store(api, count - stored, stored)
            stored = count
            with connect(str(server.kubeconfig)) as cluster:
                walls, cpus = [], []
                for _ in range(args.repeat):
                    wall, cpu = time.perf_counter(), time.process_time()
                    result = audit(cluster, engine, mesh.admission.exempt_namespaces, [NAMESPACE])
                    walls.append(time.perf_counter() - wall)
                    cpus.append(time.process_time() - cpu)
                wall, cpu = time.perf_counter(), time.process_time()
                sync_reports(cluster, OPENREPORTS, mesh.name, result.audited, [NAMESPACE])
                report_wall = time.perf_counter() - wall
                wall = time.perf_counter()
                again = sync_reports(cluster, OPENREPORTS, mesh.name, result.audited, [NAMESPACE])
                rerun = time.perf_counter() - wall
            objects = len(result.audited)
            findings = sum(len(o.violations) for o in result.audited)
            print(
                f"{objects} objects ({findings} findings): audit best {min(walls):.2f} s wall, "
                f"{min(cpus):.2f} s CPU; per 1,000 objects {1000 * min(walls) / objects:.2f} s "
                f"wall, {1000 * min(cpus) / objects:.2f} s CPU; first report write "
                f"{report_wall:.2f} s, unchanged re-run {rerun:.2f} s ({again.summary()})"
            )


if __name__ == "__main__":
    main()
