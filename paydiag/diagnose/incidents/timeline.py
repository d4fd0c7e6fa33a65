"""The per-minute error timeline: gateway calls and errors in each minute, for the report.

It observes like a detector (and reports no incidents), so the pipeline feeds it the same
observations; the report shows it as a bar chart over the log's time span. Its table holds
MAX_MINUTES minutes (four weeks, 8 bytes each), the first seen.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass

from paydiag.diagnose.incidents.common import same_kind
from paydiag.diagnose.incidents.model import ChunkObservations, Detector, Incident, Observation
from paydiag.diagnose.incidents.series import MAX_MINUTES, MinuteTable, minute_key, minute_start
from paydiag.report.model import MinuteBucket

__all__ = ["ErrorTimeline", "MinuteBucket", "TimelineCounts"]

_CALLS, _ERRORS = 0, 1


class ErrorTimeline:
    name = "timeline"

    def __init__(self, max_minutes: int = MAX_MINUTES) -> None:
        self.max_minutes = max_minutes
        self._minutes: MinuteTable[None] = MinuteTable(
            "++", max_keys=1, max_minutes=max_minutes, max_total=max_minutes
        )

    def observe(self, observation: Observation) -> None:
        found = self._minutes.row(None, minute_key(observation.time))
        if found is not None:
            page, offset = found
            page.ints[offset * 2 + _CALLS] += 1
            page.ints[offset * 2 + _ERRORS] += observation.failed

    def observe_chunk(self, chunk: ChunkObservations) -> None:
        for _offset, observation in chunk.failures:
            self.observe(observation)
        for group in chunk.activity.minutes.values():
            self._minutes.count(None, group.minute, group.calls)

    def shift_lines(self, lines: int) -> None:
        """No line numbers are held."""

    def merge(self, later: Detector) -> None:
        same_kind(self, later)
        assert isinstance(later, ErrorTimeline)
        self._minutes.merge(later._minutes)

    def incidents(self) -> list[Incident]:
        return []

    def buckets(self) -> list[MinuteBucket]:
        """Every minute from the first to the last seen, quiet minutes included as zeros
        (only the minutes seen when the span is longer than `max_minutes`)."""
        return self.counts().buckets()

    def counts(self) -> TimelineCounts:
        columns = self._minutes.columns(None)
        calls, errors = columns.ints
        return TimelineCounts(columns.minutes, calls, errors, self.max_minutes)


@dataclass(frozen=True)
class TimelineCounts:
    """The minutes seen, in time order, with their calls and errors: what a worker sends of
    the timeline (5,000 minutes took 13 ms to make into MinuteBuckets and pickle, and the
    timeline is concluded last)."""

    minutes: array[int]  # minute_key()
    calls: array[int]
    errors: array[int]
    max_minutes: int

    def buckets(self) -> list[MinuteBucket]:
        """ErrorTimeline.buckets()."""
        minutes, calls, errors = self.minutes, self.calls, self.errors
        if not minutes:
            return []
        if minutes[-1] - minutes[0] >= self.max_minutes:
            return [
                MinuteBucket(minute_start(m), c, e)
                for m, c, e in zip(minutes, calls, errors, strict=True)
            ]
        buckets, index = [], 0
        for minute in range(minutes[0], minutes[-1] + 1):
            if minutes[index] == minute:
                buckets.append(MinuteBucket(minute_start(minute), calls[index], errors[index]))
                index += 1
            else:
                buckets.append(MinuteBucket(minute_start(minute), 0, 0))
        return buckets
