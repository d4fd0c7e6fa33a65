"""Incident detectors: what no single line shows (outages, bursts, limbo orders ...).

Placeholder wiring so the pipeline can feed detectors; the detectors themselves are being
added (issue 7): `make_detectors` will return one detector per kind.
"""

from __future__ import annotations

from dataclasses import dataclass

from paydiag.diagnose.incidents.model import Detector, Incident, Observation


@dataclass(frozen=True)
class IncidentSettings:
    """Thresholds of every detector."""


def make_detectors(settings: IncidentSettings) -> list[Detector]:
    return []


__all__ = ["Detector", "Incident", "IncidentSettings", "Observation", "make_detectors"]
