"""Watch files by content, and say when a new version is in place and usable.

Two things are watched this way by ``meshc webhook serve``: the serving
certificate and key, and the spec. Both are polled (a Kubernetes Secret or
ConfigMap volume swaps a symlink, which inotify on the file does not see)
and both are only reported once the new content passes a check: a
half-written rotation is waited out, and a spec that does not validate is
never handed to the workers.

cert-manager renews into a Secret; the kubelet swaps the mounted files with
one symlink rename, but other writers (a script, ``meshc certs generate``)
replace the two files one after the other. So a certificate change is only
reported once the certificate and key on disk load together.
"""

from __future__ import annotations

import hashlib
import logging
import ssl
import threading
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger("meshc.webhook")


def fingerprint(*paths: Path) -> str | None:
    digest = hashlib.sha256()
    try:
        for path in paths:
            digest.update(path.read_bytes())
    except OSError:
        return None  # between a delete and a create: look again next time
    return digest.hexdigest()


def pair_loads(cert: Path, key: Path) -> bool:
    try:
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(cert, key)
    except (OSError, ssl.SSLError):
        return False
    return True


class FileWatcher:
    """Calls ``on_change`` once per new content of ``paths`` that ``accept()`` approves.

    Content that ``accept()`` refused is not tried again until it changes:
    the same bytes would fail the same way, and each failure is reported once.
    """

    def __init__(
        self,
        paths: tuple[Path, ...],
        on_change: Callable[[], object],
        accept: Callable[[], bool],
        interval: float = 1.0,
        name: str = "files",
    ):
        self.paths = paths
        self.on_change = on_change
        self.accept = accept
        self.interval = interval
        self.name = name
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.current = fingerprint(*paths)
        self.refused: str | None = None

    def check(self) -> bool:
        """Report a change if the files differ from the version in use and are accepted."""
        seen = fingerprint(*self.paths)
        if seen is None or seen in (self.current, self.refused):
            return False
        if not self.accept():
            self.refused = seen
            return False
        self.current, self.refused = seen, None
        self.on_change()
        return True

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.check()
            except Exception:
                log.exception("checking the %s failed", self.name)

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._loop, name=f"meshc-watch-{self.name}", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()


class CertWatcher(FileWatcher):
    def __init__(
        self, cert: Path, key: Path, on_change: Callable[[], object], interval: float = 1.0
    ):
        self.cert, self.key = cert, key
        super().__init__((cert, key), on_change, self._pair_ready, interval, "certificate")

    def _pair_ready(self) -> bool:
        if not pair_loads(self.cert, self.key):
            log.warning(
                "the certificate and key on disk do not match yet; keeping the current pair"
            )
            return False
        log.info("new certificate at %s: gracefully respawning the workers", self.cert)
        return True
