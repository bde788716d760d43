"""Prometheus metrics: one definition per series, shared by clients, pollers and handlers.

Everything lives in prometheus_client's default registry, so the one endpoint started by
``serve`` exposes all of it (plus the client library's process and Python collectors).
Label values are bounded: APIs, endpoint names from the clients, error kinds, kinds,
phases and condition reasons, never object names or ids.
"""

from __future__ import annotations

import re
import threading
import time
from collections import Counter as Tally
from collections.abc import Iterator

from prometheus_client import REGISTRY, Counter, Gauge, Histogram, start_http_server
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

PREFIX = "cfgpu_operator_"

# API latency and waits: from a fast emulator call to a slow cloud under load.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
# Apply-to-Ready: seconds for a workload, up to hours for an instance waiting for stock.
READY_BUCKETS = (1, 5, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 21600)

API_REQUESTS = Counter(
    PREFIX + "api_requests",
    "HTTP requests sent to an external API, by outcome (ok or the error kind).",
    ["api", "endpoint", "outcome"],
)
API_DURATION = Histogram(
    PREFIX + "api_request_duration_seconds",
    "Time from sending a request to an external API until its response (or failure).",
    ["api", "endpoint"],
    buckets=LATENCY_BUCKETS,
)
API_RETRIES = Counter(
    PREFIX + "api_retries",
    "Read calls retried after a retryable error (each retry counted once).",
    ["api", "endpoint"],
)
RATE_LIMIT_WAIT = Histogram(
    PREFIX + "rate_limit_wait_seconds",
    "Time a request waited for the client-side rate limiter before it was sent.",
    ["api"],
    buckets=LATENCY_BUCKETS,
)
POLL_CYCLE = Histogram(
    PREFIX + "poller_cycle_duration_seconds",
    "Time one batched poll of an account took, by API and result (ok or error).",
    ["api", "result"],
    buckets=LATENCY_BUCKETS,
)
LIFECYCLE_ACTIONS = Counter(
    PREFIX + "lifecycle_actions",
    "Calls spec.lifecycle made by itself that CFGPU accepted, by action (start, stop, "
    "release) and rule (StopAfter, IdleStopAfter, Schedule, ReleaseAfter).",
    ["action", "reason"],
)
RECONCILE_ERRORS = Counter(
    PREFIX + "reconcile_errors",
    "Reconciles that ended in an error condition, by kind and condition reason.",
    ["kind", "reason"],
)
TIME_TO_READY = Histogram(
    PREFIX + "time_to_ready_seconds",
    "Seconds from creation (or from Ready last turning False) until Ready turned True.",
    ["kind"],
    buckets=READY_BUCKETS,
)


ORPHANS = Gauge(
    PREFIX + "orphaned_instances",
    "Instances this cluster named that no GpuInstance records (past the grace period), by "
    "account (a fingerprint of its token).",
    ["account"],
)


def outcome_of(exc: BaseException | None) -> str:
    """``ok``, or the error class as a snake_case label (``rate_limited``, ``api_timeout``)."""
    if exc is None:
        return "ok"
    return re.sub(r"(?<!^)(?=[A-Z])", "_", type(exc).__name__).lower()


class ObjectPhases(Collector):
    """The last phase this process wrote or saw for each object, and since when it has not
    been Ready, exported as gauges by kind (and phase); computed at scrape time so a deleted
    object just drops out."""

    def __init__(self) -> None:
        self._lock = threading.Lock()  # scrapes run on the HTTP server's thread
        self._phases: dict[str, tuple[str, str]] = {}
        self._not_ready: dict[str, tuple[str, float]] = {}  # uid -> kind, since (epoch)

    def set(self, uid: str, kind: str, phase: str, not_ready_since: float | None = None) -> None:
        with self._lock:
            self._phases[uid] = (kind, phase)
            if not_ready_since is None:
                self._not_ready.pop(uid, None)
            else:
                self._not_ready[uid] = (kind, not_ready_since)

    def forget(self, uid: str) -> None:
        with self._lock:
            self._phases.pop(uid, None)
            self._not_ready.pop(uid, None)

    def counts(self) -> Tally[tuple[str, str]]:
        with self._lock:
            return Tally(self._phases.values())

    def longest_not_ready(self, now: float) -> dict[str, float]:
        """Per kind, how long the object not Ready for longest has been so (0: none is)."""
        with self._lock:
            longest = {kind: 0.0 for kind, _ in self._phases.values()}
            for kind, since in self._not_ready.values():
                longest[kind] = max(longest.get(kind, 0.0), now - since)
        return longest

    def collect(self) -> Iterator[Metric]:
        family = GaugeMetricFamily(
            PREFIX + "objects",
            "Objects this operator manages, by kind and phase.",
            labels=["kind", "phase"],
        )
        for (kind, phase), count in sorted(self.counts().items()):
            family.add_metric([kind, phase], count)
        yield family
        longest = GaugeMetricFamily(
            PREFIX + "not_ready_max_seconds",
            "Seconds the object of a kind that has not been Ready for longest has been so.",
            labels=["kind"],
        )
        for kind, seconds in sorted(self.longest_not_ready(time.time()).items()):
            longest.add_metric([kind], max(0.0, seconds))
        yield longest


OBJECTS = ObjectPhases()
REGISTRY.register(OBJECTS)


def serve(port: int, address: str) -> None:
    """Serve /metrics on a daemon thread (prometheus_client's own server)."""
    start_http_server(port, addr=address)
