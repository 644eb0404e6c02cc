"""Prometheus metrics through prometheus_client, summed over worker processes.

With ``--workers N`` every worker is its own process with its own counters, so one scrape
(answered by whichever worker accepts it) must read all of them: ``moderation serve`` then
sets ``PROMETHEUS_MULTIPROC_DIR``, each worker's values live in files there, and a scrape
collects the directory (prometheus_client's multiprocess mode). A single process keeps its
values in memory, in a registry of its own (tests build several apps in one process).
"""

from __future__ import annotations

import os

import prometheus_client
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest, multiprocess

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE = prometheus_client.CONTENT_TYPE_LATEST
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)

# ``*_created`` series would double every counter and histogram for no use here.
prometheus_client.disable_created_metrics()


def multiprocess_dir() -> str | None:
    return os.environ.get(MULTIPROC_ENV) or None


class Metrics:
    """The service's metrics; names as ``moderation_*`` (counters gain ``_total`` on exposition)."""

    def __init__(self) -> None:
        self.shared = multiprocess_dir() is not None
        # Multiprocess values go to files, not to a registry: scrapes collect the directory.
        self.registry = None if self.shared else CollectorRegistry(auto_describe=True)
        reg = {"registry": self.registry}
        self.requests = Counter("moderation_requests", "HTTP requests by endpoint and status code.", ("endpoint", "code"), **reg)
        self.latency = Histogram("moderation_request_duration_seconds", "Request latency by endpoint.", ("endpoint",),
                                 buckets=LATENCY_BUCKETS, **reg)
        self.batch_size = Histogram("moderation_batch_size", "Comments per forward pass.", buckets=BATCH_BUCKETS, **reg)
        self.batch_seconds = Histogram("moderation_batch_duration_seconds", "Time per forward pass.", buckets=LATENCY_BUCKETS, **reg)
        self.comments = Counter("moderation_comments_scored", "Comments (and Perspective spans) scored.", **reg)
        self.flagged = Counter("moderation_flagged", "Scored comments at or above a label's threshold, by label.", ("label",), **reg)
        self.rejected = Counter("moderation_rejected", "Requests refused before scoring, by reason.", ("reason",), **reg)
        self.coral = Counter("moderation_coral_decisions", "Coral moderation answers by decision.", ("decision",), **reg)
        # Gauges are set when their value changes; across workers the queue depths add up and
        # the model is the same one, so "livesum" and "max" give one series each, without pids.
        self.queue_depth = Gauge("moderation_queue_depth", "Comments waiting for a forward pass.",
                                 multiprocess_mode="livesum", **reg)
        self.model_info = Gauge("moderation_model_info", "The model being served.", ("model",), multiprocess_mode="max", **reg)

    def render(self) -> bytes:
        """The text exposition of every worker's metrics (this process's alone without multiprocess mode)."""
        if self.registry is not None:
            return generate_latest(self.registry)
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry)

    def process_exited(self) -> None:
        """Drop this worker's share of the live gauges (its counters stay: they are history)."""
        if self.shared:
            multiprocess.mark_process_dead(os.getpid())


def prepare_multiprocess_dir(directory: str) -> None:
    """Empty ``directory`` of a previous run's files, so counters start at zero, and create it if needed."""
    os.makedirs(directory, exist_ok=True)
    for name in os.listdir(directory):
        if name.endswith(".db"):
            os.remove(os.path.join(directory, name))
