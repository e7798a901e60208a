"""Live figures from two scrapes of a service's ``GET /metrics``: requests/s, p50/p99, errors.

Counters and histogram buckets only grow, so the figures over an interval are the
differences between two scrapes, as Prometheus' ``rate()`` and ``histogram_quantile()``
compute them. A counter that went down belongs to a new server (a reload, an update):
its value is then the difference from zero.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Rates", "Scrape", "quantile", "rates"]

_ROUTE = "/score"
K = TypeVar("K", str, float)


@dataclass(frozen=True)
class Scrape:
    """What one scrape says about ``/score``: requests by status, and the latency histogram.

    Attributes:
        at: when it was taken (``time.monotonic()``).
        by_status: requests answered, by status.
        buckets: cumulative request counts by upper bound in seconds (``inf`` last).
    """

    at: float
    by_status: dict[str, float]
    buckets: dict[float, float]

    @classmethod
    def parse(cls, metrics: pd.DataFrame, *, at: float) -> Scrape:
        """Read a :func:`mlnb.monitoring.parse_metrics` frame."""
        score = metrics[metrics["route"] == _ROUTE] if "route" in metrics.columns else metrics.iloc[0:0]
        counts = score[score["sample"] == "mlnb_requests_total"]
        buckets = score[score["sample"] == "mlnb_request_duration_seconds_bucket"]
        return cls(
            at=at,
            by_status={str(status): float(value) for status, value in zip(counts["status"], counts["value"], strict=True)},
            buckets={float(bound): float(value) for bound, value in zip(buckets["le"], buckets["value"], strict=True)},
        )


@dataclass(frozen=True)
class Rates:
    """The figures of one interval between two scrapes.

    Attributes:
        requests_per_s: ``/score`` requests answered per second.
        p50_ms: the median latency in the app, in ms (``None`` without requests).
        p99_ms: the 99th percentile, in ms (``None`` without requests).
        errors: requests answered with a status of 400 or more.
        requests: requests answered.
    """

    requests_per_s: float
    p50_ms: float | None
    p99_ms: float | None
    errors: int
    requests: int


def rates(before: Scrape, after: Scrape) -> Rates:
    """The figures between two scrapes of the same service."""
    seconds = max(after.at - before.at, 1e-9)
    by_status = _delta(before.by_status, after.by_status)
    buckets = _delta(before.buckets, after.buckets)
    requests = sum(by_status.values())
    errors = sum(value for status, value in by_status.items() if status.isdigit() and int(status) >= 400)
    p50, p99 = quantile(0.5, buckets), quantile(0.99, buckets)
    return Rates(
        requests_per_s=requests / seconds,
        p50_ms=None if p50 is None else p50 * 1000.0,
        p99_ms=None if p99 is None else p99 * 1000.0,
        errors=round(errors),
        requests=round(requests),
    )


def quantile(q: float, buckets: dict[float, float]) -> float | None:
    """The ``q`` quantile of a cumulative histogram, interpolated linearly inside its bucket.

    As Prometheus' ``histogram_quantile``: in the ``+Inf`` bucket it is the largest finite
    bound. ``None`` when the histogram is empty.
    """
    bounds = sorted(buckets)
    total = buckets[bounds[-1]] if bounds else 0.0
    if total <= 0:
        return None
    rank = q * total
    lower, below = 0.0, 0.0
    for bound in bounds:
        count = buckets[bound]
        if count >= rank:
            if math.isinf(bound):
                return lower
            if count == below:
                return bound
            return lower + (bound - lower) * (rank - below) / (count - below)
        lower, below = bound, count
    return lower


def _delta(before: dict[K, float], after: dict[K, float]) -> dict[K, float]:
    reset = any(value < before.get(key, 0.0) for key, value in after.items())
    return {key: value if reset else value - before.get(key, 0.0) for key, value in after.items()}
