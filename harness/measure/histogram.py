"""A mergeable latency histogram with fixed log-linear buckets.

Every process (Locust workers, probes, the timeline) uses the same bucket scheme, so histograms add up
exactly and any window's percentiles are exact to the bucket (worst-case relative error about 2 %).
Serialised as ``{"<bucket index>": count}`` with only non-empty buckets.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

_SUB = 32  # sub-buckets per power of two: 2**(1/32) ≈ 2.2 % bucket width
_MIN_MS = 0.1


def bucket_of(ms: float) -> int:
    """The bucket index of a latency in milliseconds (everything below 0.1 ms is bucket 0)."""
    if ms <= _MIN_MS:
        return 0
    return 1 + int(math.log2(ms / _MIN_MS) * _SUB)


def bucket_upper_ms(index: int) -> float:
    """The upper bound (ms) of a bucket: what a percentile falling in it reports."""
    if index <= 0:
        return _MIN_MS
    return float(_MIN_MS * 2 ** (index / _SUB))


class Histogram:
    """Counts of latencies per bucket. Cheap to add to, merge and serialise."""

    __slots__ = ("counts", "total", "sum_ms")

    def __init__(self) -> None:
        self.counts: dict[int, int] = {}
        self.total = 0
        self.sum_ms = 0.0

    def add(self, ms: float, n: int = 1) -> None:
        b = bucket_of(ms)
        self.counts[b] = self.counts.get(b, 0) + n
        self.total += n
        self.sum_ms += ms * n

    def merge(self, other: Histogram) -> Histogram:
        for b, c in other.counts.items():
            self.counts[b] = self.counts.get(b, 0) + c
        self.total += other.total
        self.sum_ms += other.sum_ms
        return self

    def percentile(self, q: float) -> float | None:
        """The latency (ms) below which a share ``q`` (0–1) of samples fall; None when empty."""
        if self.total == 0:
            return None
        rank = max(1, math.ceil(q * self.total))
        seen = 0
        for b in sorted(self.counts):
            seen += self.counts[b]
            if seen >= rank:
                return round(bucket_upper_ms(b), 3)
        return round(bucket_upper_ms(max(self.counts)), 3)

    @property
    def mean(self) -> float | None:
        return self.sum_ms / self.total if self.total else None

    def to_json(self) -> dict[str, object]:
        return {"b": {str(k): v for k, v in sorted(self.counts.items())}, "s": round(self.sum_ms, 3)}

    @classmethod
    def from_json(cls, data: Mapping[str, object] | None) -> Histogram:
        h = cls()
        if not data:
            return h
        buckets = data.get("b") or {}
        assert isinstance(buckets, Mapping)
        for k, v in buckets.items():
            h.counts[int(k)] = int(v)
            h.total += int(v)
        s = data.get("s", 0.0)
        h.sum_ms = float(s) if isinstance(s, (int, float)) else 0.0
        return h

    @classmethod
    def merged(cls, hists: Iterable[Histogram]) -> Histogram:
        out = cls()
        for h in hists:
            out.merge(h)
        return out
