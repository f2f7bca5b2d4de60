"""Watch the serving certificate and key, and say when a new, complete pair is in place.

cert-manager renews into a Secret; the kubelet swaps the mounted files with
one symlink rename, but other writers (a script, ``meshc certs generate``)
replace the two files one after the other. So a change is only reported once
the certificate and key on disk load together: a half-written rotation is
waited out, never served.
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


class CertWatcher:
    def __init__(
        self, cert: Path, key: Path, on_change: Callable[[], object], interval: float = 1.0
    ):
        self.cert, self.key = cert, key
        self.on_change = on_change
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.current = fingerprint(cert, key)

    def check(self) -> bool:
        """Report a change if the files differ from the pair in use and load together."""
        seen = fingerprint(self.cert, self.key)
        if seen is None or seen == self.current:
            return False
        if not pair_loads(self.cert, self.key):
            log.warning(
                "the certificate and key on disk do not match yet; keeping the current pair"
            )
            return False
        self.current = seen
        log.info("new certificate at %s: gracefully respawning the workers", self.cert)
        self.on_change()
        return True

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.check()
            except Exception:
                log.exception("checking the certificate failed")

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="meshc-certwatch", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
