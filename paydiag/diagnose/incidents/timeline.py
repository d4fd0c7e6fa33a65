"""The per-minute error timeline: gateway calls and errors in each minute, for the report.

It observes like a detector (and reports no incidents), so the pipeline feeds it the same
observations; the report shows it as a bar chart over the log's time span.
"""

from __future__ import annotations

from datetime import datetime

from paydiag.diagnose.incidents.common import MAX_MINUTES, MINUTE, merge_keyed, minute_of, same_kind
from paydiag.diagnose.incidents.model import Detector, Incident, Observation
from paydiag.report.model import MinuteBucket

__all__ = ["ErrorTimeline", "MinuteBucket"]


class ErrorTimeline:
    name = "timeline"

    def __init__(self, max_minutes: int = MAX_MINUTES) -> None:
        self.max_minutes = max_minutes
        self._minutes: dict[datetime, list[int]] = {}  # minute -> [calls, errors]

    def observe(self, observation: Observation) -> None:
        minute = minute_of(observation.time)
        counts = self._minutes.get(minute)
        if counts is None:
            if len(self._minutes) >= self.max_minutes:
                return
            counts = self._minutes[minute] = [0, 0]
        counts[0] += 1
        counts[1] += observation.failed

    def merge(self, later: Detector) -> None:
        same_kind(self, later)
        assert isinstance(later, ErrorTimeline)
        merge_keyed(self._minutes, later._minutes, self.max_minutes, _add_counts)

    def incidents(self) -> list[Incident]:
        return []

    def buckets(self) -> list[MinuteBucket]:
        """Every minute from the first to the last seen, quiet minutes included as zeros
        (only the minutes seen when the span is longer than `max_minutes`)."""
        if not self._minutes:
            return []
        first, last = min(self._minutes), max(self._minutes)
        span = int((last - first) / MINUTE) + 1
        if span <= self.max_minutes:
            minutes = [first + step * MINUTE for step in range(span)]
        else:
            minutes = sorted(self._minutes)
        return [MinuteBucket(m, *self._minutes.get(m, (0, 0))) for m in minutes]


def _add_counts(mine: list[int], later: list[int]) -> None:
    mine[0] += later[0]
    mine[1] += later[1]
