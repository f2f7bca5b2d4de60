"""The certificate watcher: a change is reported once, and only for a pair that loads."""

from __future__ import annotations

from pathlib import Path

from meshc.atomicfile import write_atomic
from meshc.webhook.certs import generate
from meshc.webhook.certwatch import CertWatcher


def write_pair(d: Path, cert: bytes, key: bytes) -> None:
    write_atomic(d / "tls.key", key, 0o600)
    write_atomic(d / "tls.crt", cert)


def watcher(d: Path, calls: list[int]) -> CertWatcher:
    return CertWatcher(d / "tls.crt", d / "tls.key", on_change=lambda: calls.append(1))


def test_unchanged_files_report_nothing(tmp_path: Path) -> None:
    b = generate("s", "n", [])
    write_pair(tmp_path, b.cert_pem, b.key_pem)
    calls: list[int] = []
    w = watcher(tmp_path, calls)
    assert w.check() is False and w.check() is False
    assert calls == []


def test_a_new_pair_is_reported_once(tmp_path: Path) -> None:
    first, second = generate("s", "n", []), generate("s", "n", [])
    write_pair(tmp_path, first.cert_pem, first.key_pem)
    calls: list[int] = []
    w = watcher(tmp_path, calls)
    write_pair(tmp_path, second.cert_pem, second.key_pem)
    assert w.check() is True
    assert w.check() is False
    assert calls == [1]


def test_a_half_rotated_pair_is_waited_out(tmp_path: Path) -> None:
    first, second = generate("s", "n", []), generate("s", "n", [])
    write_pair(tmp_path, first.cert_pem, first.key_pem)
    calls: list[int] = []
    w = watcher(tmp_path, calls)
    write_atomic(tmp_path / "tls.key", second.key_pem, 0o600)  # the certificate is not there yet
    assert w.check() is False
    write_atomic(tmp_path / "tls.crt", second.cert_pem)
    assert w.check() is True
    assert calls == [1]


def test_missing_files_mid_rotation_are_not_a_change(tmp_path: Path) -> None:
    b = generate("s", "n", [])
    write_pair(tmp_path, b.cert_pem, b.key_pem)
    calls: list[int] = []
    w = watcher(tmp_path, calls)
    (tmp_path / "tls.crt").unlink()
    assert w.check() is False
    assert calls == []
