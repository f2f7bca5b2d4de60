"""A throwaway control plane (etcd + kube-apiserver) for end-to-end tests.

Only the API server runs: no scheduler, controllers or kubelet. That is all a
GitOps policy compiler needs to prove its output against the real thing: CRD
schema validation, server-side apply, and admission webhooks (which the API
server calls by URL, so a webhook listening on 127.0.0.1 is reachable).

Both processes listen on 127.0.0.1 only, on free ports, and live in their own
process groups so that teardown reaches every child even when a test fails.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import requests
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from kubernetes import client as k8s

from meshc.atomicfile import write_atomic
from meshc.webhook import certs

ADMIN_USER = "meshc-admin"
SERVICE_CLUSTER_IP_RANGE = "10.96.0.0/16"
SERVICE_ACCOUNT_ISSUER = "https://kubernetes.default.svc.cluster.local"


class ControlPlaneError(RuntimeError):
    """etcd or kube-apiserver did not come up; the message carries their log tails."""


@dataclass(frozen=True)
class KubeAPIServer:
    """How to reach a running API server as a cluster admin."""

    url: str
    token: str
    ca_file: Path
    kubeconfig: Path
    workdir: Path

    def configuration(self) -> k8s.Configuration:
        config = k8s.Configuration()
        config.host = self.url
        config.ssl_ca_cert = str(self.ca_file)
        config.api_key = {"authorization": self.token}
        config.api_key_prefix = {"authorization": "Bearer"}
        return config

    def api_client(self) -> k8s.ApiClient:
        """A new client; close it (or use it as a context manager) when done."""
        return k8s.ApiClient(self.configuration())

    def get(self, path: str, timeout: float = 10) -> requests.Response:
        """A raw authenticated GET, for probes the typed client does not cover."""
        return requests.get(
            self.url + path,
            headers={"Authorization": f"Bearer {self.token}"},
            verify=str(self.ca_file),
            timeout=timeout,
        )


# --- certificates -------------------------------------------------------------------


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    path.chmod(0o600)


def write_serving_pki(directory: Path) -> tuple[Path, Path, Path]:
    """A CA and a serving certificate for 127.0.0.1; returns (ca, cert, key) paths.

    meshc's own certificate generator makes them (SANs for a Service plus the
    extra ones); the API server is its second client after the webhook.
    """
    bundle = certs.generate("kubernetes", "default", ["127.0.0.1", "localhost"], days=2)
    ca_file, cert_file, key_file = (
        directory / "ca.crt",
        directory / "apiserver.crt",
        directory / "apiserver.key",
    )
    write_atomic(ca_file, bundle.ca_pem)
    write_atomic(cert_file, bundle.cert_pem)
    write_atomic(key_file, bundle.key_pem, mode=0o600)
    return ca_file, cert_file, key_file


def write_service_account_keys(directory: Path) -> tuple[Path, Path]:
    """The key pair that signs service-account tokens; returns (public, private)."""
    key = ec.generate_private_key(ec.SECP256R1())
    public, private = directory / "sa.pub", directory / "sa.key"
    _write_key(private, key)
    public.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return public, private


def write_kubeconfig(path: Path, url: str, ca_file: Path, token: str) -> Path:
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": "meshc-e2e", "cluster": {"server": url, "certificate-authority": str(ca_file)}}
        ],
        "users": [{"name": ADMIN_USER, "user": {"token": token}}],
        "contexts": [
            {"name": "meshc-e2e", "context": {"cluster": "meshc-e2e", "user": ADMIN_USER}}
        ],
        "current-context": "meshc-e2e",
    }
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    path.chmod(0o600)
    return path


# --- processes ----------------------------------------------------------------------


def free_port() -> int:
    # The port could be taken between here and the server's bind; both servers
    # bind within a second, which has been good enough on a test machine.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _die_with_parent(argv: list[str]) -> list[str]:
    # If pytest itself is killed (a CI timeout), the servers go with it rather
    # than keep holding ports. setpriv (util-linux) sets the parent-death signal
    # and execs; a preexec_fn would do the same but is unsafe in a threaded
    # process, and test sessions run webhook servers in threads.
    setpriv = shutil.which("setpriv")
    return [setpriv, "--pdeathsig", "KILL", "--", *argv] if setpriv else argv


def _spawn(
    argv: Sequence[str | os.PathLike[str]], log: Path, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """``argv`` writing to ``log``, in ``env`` (default: this process's environment)."""
    with log.open("wb") as out:
        return subprocess.Popen(
            _die_with_parent([str(a) for a in argv]),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,  # its own process group, killed as one in _stop
        )


def _stop(process: subprocess.Popen[bytes], grace: float = 10) -> None:
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def _tail(log: Path, lines: int = 40) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _wait_until(
    ready: Callable[[], bool],
    process: subprocess.Popen[bytes],
    log: Path,
    what: str,
    timeout: float,
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ControlPlaneError(f"{what} exited with {process.returncode}; log:\n{_tail(log)}")
        if ready():
            return
        time.sleep(0.1)
    raise ControlPlaneError(f"{what} was not ready after {timeout:.0f}s; log:\n{_tail(log)}")


def _answers(url: str, **kwargs: object) -> bool:
    try:
        # A server still starting may be slow to answer: not ready yet, as refused.
        return requests.get(url, timeout=10, **kwargs).status_code == 200  # type: ignore[arg-type]
    except requests.RequestException:
        return False


def etcd_argv(etcd: Path, data_dir: Path, client_port: int, peer_port: int) -> list[str]:
    client, peer = f"http://127.0.0.1:{client_port}", f"http://127.0.0.1:{peer_port}"
    return [
        str(etcd),
        "--name=meshc-e2e",
        f"--data-dir={data_dir}",
        f"--listen-client-urls={client}",
        f"--advertise-client-urls={client}",
        f"--listen-peer-urls={peer}",
        f"--initial-advertise-peer-urls={peer}",
        f"--initial-cluster=meshc-e2e={peer}",
        # The data is thrown away after the session: durability only costs time.
        "--unsafe-no-fsync",
        # Upstream CRDs reach ~1.4 MB (Argo CD's ApplicationSet); the default
        # 1.5 MiB request cap leaves no room for their managedFields.
        "--max-request-bytes=10485760",
        "--log-level=warn",
    ]


def apiserver_argv(
    apiserver: Path,
    *,
    workdir: Path,
    port: int,
    etcd_url: str,
    cert: Path,
    key: Path,
    token_file: Path,
    sa_public: Path,
    sa_private: Path,
) -> list[str]:
    return [
        str(apiserver),
        "--bind-address=127.0.0.1",
        "--advertise-address=127.0.0.1",
        f"--secure-port={port}",
        f"--cert-dir={workdir}",
        f"--tls-cert-file={cert}",
        f"--tls-private-key-file={key}",
        f"--etcd-servers={etcd_url}",
        f"--token-auth-file={token_file}",
        "--authorization-mode=RBAC",
        # As every real cluster's (kubeadm's, the managed offerings'): privileged
        # containers are refused by admission policy, not by the API server.
        "--allow-privileged=true",
        "--enable-admission-plugins=MutatingAdmissionWebhook,ValidatingAdmissionWebhook",
        f"--service-account-issuer={SERVICE_ACCOUNT_ISSUER}",
        f"--service-account-key-file={sa_public}",
        f"--service-account-signing-key-file={sa_private}",
        f"--service-cluster-ip-range={SERVICE_CLUSTER_IP_RANGE}",
        # Nothing else runs in this cluster: no kubernetes Endpoints to keep.
        "--endpoint-reconciler-type=none",
        "--profiling=false",
        "--v=0",
    ]


@contextlib.contextmanager
def running_apiserver(
    apiserver: Path, etcd: Path, workdir: Path, *, timeout: float = 90
) -> Iterator[KubeAPIServer]:
    """Run etcd and kube-apiserver in ``workdir`` until the block exits.

    Yields once ``/readyz`` answers 200. Both process groups are stopped on the
    way out, whether the block returns or raises.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    ca_file, cert, key = write_serving_pki(workdir)
    sa_public, sa_private = write_service_account_keys(workdir)
    token = os.urandom(24).hex()
    token_file = workdir / "tokens.csv"
    token_file.write_text(f'{token},{ADMIN_USER},{ADMIN_USER},"system:masters"\n')
    token_file.chmod(0o600)

    processes: list[subprocess.Popen[bytes]] = []
    try:
        client_port, peer_port, api_port = free_port(), free_port(), free_port()
        etcd_log = workdir / "etcd.log"
        etcd_process = _spawn(etcd_argv(etcd, workdir / "etcd", client_port, peer_port), etcd_log)
        processes.append(etcd_process)
        etcd_url = f"http://127.0.0.1:{client_port}"
        _wait_until(lambda: _answers(f"{etcd_url}/health"), etcd_process, etcd_log, "etcd", timeout)

        api_log = workdir / "kube-apiserver.log"
        argv = apiserver_argv(
            apiserver,
            workdir=workdir,
            port=api_port,
            etcd_url=etcd_url,
            cert=cert,
            key=key,
            token_file=token_file,
            sa_public=sa_public,
            sa_private=sa_private,
        )
        api_process = _spawn(argv, api_log)
        processes.append(api_process)
        url = f"https://127.0.0.1:{api_port}"
        server = KubeAPIServer(
            url=url,
            token=token,
            ca_file=ca_file,
            kubeconfig=write_kubeconfig(workdir / "kubeconfig", url, ca_file, token),
            workdir=workdir,
        )
        _wait_until(
            lambda: _answers(
                f"{url}/readyz",
                headers={"Authorization": f"Bearer {token}"},
                verify=str(ca_file),
            ),
            api_process,
            api_log,
            "kube-apiserver",
            timeout,
        )
        yield server
    finally:
        # API server first: it would otherwise log etcd errors while shutting down.
        for process in reversed(processes):
            _stop(process)
