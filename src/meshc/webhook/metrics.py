"""Prometheus metrics of the webhook.

With several worker processes each one counts in its own files under
``PROMETHEUS_MULTIPROC_DIR`` (set by ``meshc webhook serve`` before any worker
starts) and ``/metrics`` adds them up, so a scrape sees the whole server
whichever worker answers it. Without that variable (tests, a single process)
the metrics live in a registry of their own per app.
"""

from __future__ import annotations

import os
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from meshc.webhook.decision import Verdict
from meshc.webhook.settings import MULTIPROC_ENV

# Admissions take about a millisecond; the API server gives up at 10 s by default.
LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0)
RESULT_BY_MODE = {"enforce": "denied", "warn": "warned", "audit": "audited"}


class _Children(dict[tuple[str, ...], Any]):
    """A metric's children by label values, each looked up through ``labels()`` once.

    ``labels()`` takes a lock and re-checks the label values on every call;
    the child it returns is the same object each time.
    """

    def __init__(self, metric: Counter | Histogram):
        super().__init__()
        self._metric = metric

    def __missing__(self, labels: tuple[str, ...]) -> Any:
        child = self[labels] = self._metric.labels(*labels)
        return child


class Metrics:
    def __init__(self) -> None:
        self.multiprocess = bool(os.environ.get(MULTIPROC_ENV))
        # In multiprocess mode the values go to files whatever the registry;
        # registering nowhere keeps them from being collected twice.
        self._own = CollectorRegistry()
        reg = None if self.multiprocess else self._own
        self.requests = Counter(
            "meshc_webhook_requests",
            "HTTP requests to the admission endpoints, by endpoint and status code.",
            ["endpoint", "code"],
            registry=reg,
        )
        self.admissions = Counter(
            "meshc_webhook_admissions",
            "Admission decisions, by endpoint and result (allowed, denied, or engine_error).",
            ["endpoint", "result"],
            registry=reg,
        )
        self.violations = Counter(
            "meshc_webhook_policy_violations",
            "Violations found, by policy and result (denied, warned, audited).",
            ["policy", "result"],
            registry=reg,
        )
        self.latency = Histogram(
            "meshc_webhook_request_duration_seconds",
            "Time from reading the request to the response being built, by endpoint.",
            ["endpoint"],
            buckets=LATENCY_BUCKETS,
            registry=reg,
        )
        self._requests = _Children(self.requests)
        self._admissions = _Children(self.admissions)
        self._violations = _Children(self.violations)
        self._latency = _Children(self.latency)

    def answered(self, endpoint: str, code: str, seconds: float | None = None) -> None:
        """One HTTP answer, and how long it took when it was a decision."""
        self._requests[endpoint, code].inc()
        if seconds is not None:
            self._latency[endpoint,].observe(seconds)

    def observe(self, endpoint: str, verdict: Verdict) -> None:
        if verdict.engine_error:
            result = "engine_error"
        else:
            result = "allowed" if verdict.allowed else "denied"
        self._admissions[endpoint, result].inc()
        found = verdict.decision
        for v in (*found.denials, *found.warnings, *found.audits):
            self._violations[v.policy, RESULT_BY_MODE[v.mode]].inc()

    def exposition(self) -> bytes:
        if self.multiprocess:
            registry = CollectorRegistry()
            MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
            return generate_latest(registry)
        return generate_latest(self._own)


def reload_failures() -> Counter:
    """Counted by the supervisor (the one process that reloads), summed in every worker's /metrics."""
    return Counter(
        "meshc_config_reload_failures",
        "Spec reloads refused because the new spec does not load; the last good one is served.",
        registry=None if os.environ.get(MULTIPROC_ENV) else CollectorRegistry(),
    )
