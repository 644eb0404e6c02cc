"""Prometheus metrics in the text exposition format, hand-rolled (three small types, no dependency).

All updates happen on the event-loop thread, so no locking is needed. With ``--workers N``
each worker process keeps its own counters; scrape each worker or run one worker per container.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterator, Sequence

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)

LabelKey = tuple[str, ...]


def _labels(names: Sequence[str], values: LabelKey, extra: str = "") -> str:
    pairs = [f'{n}="{_escape(v)}"' for n, v in zip(names, values)]
    if extra:
        pairs.append(extra)
    return "{" + ",".join(pairs) + "}" if pairs else ""


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


class Counter:
    def __init__(self, name: str, help: str, labelnames: Sequence[str] = ()):
        self.name, self.help, self.labelnames = name, help, tuple(labelnames)
        self.values: dict[LabelKey, float] = {}

    def inc(self, *labels: str, amount: float = 1.0) -> None:
        self.values[labels] = self.values.get(labels, 0.0) + amount

    def value(self, *labels: str) -> float:
        return self.values.get(labels, 0.0)

    def render(self) -> Iterator[str]:
        yield f"# HELP {self.name} {self.help}"
        yield f"# TYPE {self.name} counter"
        for key, value in sorted(self.values.items()):
            yield f"{self.name}{_labels(self.labelnames, key)} {_num(value)}"


class Histogram:
    def __init__(self, name: str, help: str, buckets: Sequence[float], labelnames: Sequence[str] = ()):
        self.name, self.help, self.labelnames = name, help, tuple(labelnames)
        self.buckets = tuple(sorted(buckets))
        # per label set: [count per bucket (non-cumulative, last = +Inf), sum]
        self.series: dict[LabelKey, tuple[list[int], list[float]]] = {}

    def observe(self, value: float, *labels: str) -> None:
        counts, total = self.series.setdefault(labels, ([0] * (len(self.buckets) + 1), [0.0]))
        counts[bisect.bisect_left(self.buckets, value)] += 1
        total[0] += value

    def count(self, *labels: str) -> int:
        return sum(self.series[labels][0]) if labels in self.series else 0

    def render(self) -> Iterator[str]:
        yield f"# HELP {self.name} {self.help}"
        yield f"# TYPE {self.name} histogram"
        for key, (counts, total) in sorted(self.series.items()):
            running = 0
            for bound, n in zip([*map(_num, self.buckets), "+Inf"], counts):
                running += n
                le = f'le="{bound}"'
                yield f"{self.name}_bucket{_labels(self.labelnames, key, le)} {running}"
            yield f"{self.name}_sum{_labels(self.labelnames, key)} {_num(total[0])}"
            yield f"{self.name}_count{_labels(self.labelnames, key)} {running}"


class Gauge:
    """A value read when scraped (queue depth, readiness), so it is never stale."""

    def __init__(self, name: str, help: str, read: Callable[[], float], labels: dict[str, str] | None = None):
        self.name, self.help, self.read, self.labels = name, help, read, labels or {}

    def render(self) -> Iterator[str]:
        yield f"# HELP {self.name} {self.help}"
        yield f"# TYPE {self.name} gauge"
        yield f"{self.name}{_labels(tuple(self.labels), tuple(self.labels.values()))} {_num(self.read())}"


class Metrics:
    """The service's metrics; gauges are added once the objects they read exist."""

    def __init__(self) -> None:
        self.requests = Counter("moderation_requests_total", "HTTP requests by endpoint and status code.", ("endpoint", "code"))
        self.latency = Histogram(
            "moderation_request_duration_seconds", "Request latency by endpoint.", LATENCY_BUCKETS, ("endpoint",)
        )
        self.batch_size = Histogram("moderation_batch_size", "Comments per forward pass.", BATCH_BUCKETS)
        self.batch_seconds = Histogram("moderation_batch_duration_seconds", "Time per forward pass.", LATENCY_BUCKETS)
        self.comments = Counter("moderation_comments_scored_total", "Comments (and Perspective spans) scored.")
        self.flagged = Counter(
            "moderation_flagged_total", "Scored comments at or above a label's threshold, by label.", ("label",)
        )
        self.rejected = Counter("moderation_rejected_total", "Requests refused before scoring, by reason.", ("reason",))
        self.coral = Counter("moderation_coral_decisions_total", "Coral moderation answers by decision.", ("decision",))
        self.gauges: list[Gauge] = []

    def render(self) -> str:
        families = [self.requests, self.latency, self.batch_size, self.batch_seconds, self.comments, self.flagged,
                    self.rejected, self.coral, *self.gauges]
        return "\n".join(line for family in families for line in family.render()) + "\n"
