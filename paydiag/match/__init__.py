"""Matching: find candidate records fast (scanners), then confirm them against the rules."""

from paydiag.match.engine import Matcher

__all__ = ["Matcher"]
