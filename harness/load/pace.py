"""How long a user waits between tasks, decided in each worker from what the master says.

Pure code (no Locust import). :func:`install` wraps every User class's ``wait_time`` so that

* with a requests-per-second target the master sends ``per_user`` (= target_rps ÷ target users):
  each user runs ``per_user`` tasks per second, like Locust's ``constant_throughput`` (the task's own
  duration is taken off the wait; a task longer than the pace means no wait at all, so a slow site
  or a busy worker shows as achieved < offered);
* otherwise a remote worker (``harness load-worker``) waits the experiment's ``think`` range, which it
  cannot read from its environment as a local worker does; a local worker keeps the class's own
  ``wait_time`` (the journeys read the think time from ``HARNESS_THINK_MIN``/``MAX``).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any


@dataclass
class Pace:
    """The master's latest pacing, shared by every user of a worker."""

    per_user: float | None = None
    """Task runs per second per user (requests-per-second target mode), None = think time."""
    think: tuple[float, float] | None = None
    """Think-time range used instead of the class's own (remote workers only)."""

    def update(self, data: dict[str, Any], remote: bool) -> None:
        """Apply a ``harness_pace`` message: ``{"per_user": float | None, "think": [min, max]}``."""
        per_user = data.get("per_user")
        self.per_user = float(per_user) if per_user else None
        think = data.get("think")
        if remote and think:
            self.think = (float(think[0]), max(float(think[0]), float(think[1])))

    def wait(self, user: Any, own: Callable[[Any], float]) -> float:
        """Seconds ``user`` waits before its next task."""
        if self.per_user:
            return _constant_pacing(user, 1.0 / self.per_user)
        if self.think is not None:
            return random.uniform(*self.think)
        return float(own(user))


def _constant_pacing(user: Any, every: float) -> float:
    """Locust's constant_pacing, with the interval read at each call (it changes with the stages)."""
    now = time.perf_counter()
    last_run = getattr(user, "_harness_last_run", None)
    last_wait = getattr(user, "_harness_last_wait", 0.0)
    ran = 0.0 if last_run is None else now - last_run - last_wait
    wait = max(0.0, every - ran) if last_run is not None else random.uniform(0.0, every)
    user._harness_last_run = now
    user._harness_last_wait = wait
    return wait


def install(user_classes: Iterable[type[Any]], pace: Pace) -> None:
    """Make every class's ``wait_time`` go through ``pace`` (keeping the class's own as fallback)."""
    for cls in user_classes:
        own = cls.wait_time

        def wait_time(self: Any, _own: Callable[[Any], float] = own) -> float:
            return pace.wait(self, _own)

        cls.wait_time = wait_time
