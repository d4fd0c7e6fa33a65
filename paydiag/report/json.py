"""The JSON report: the Report as data, versioned by `schema_version` (report.schema.json)."""

from __future__ import annotations

import json

from paydiag.report.interface import RenderOptions
from paydiag.report.model import Report


class JsonReporter:
    name = "json"

    def render(self, report: Report, options: RenderOptions) -> str:
        return json.dumps(report.to_dict(), indent=2, ensure_ascii=False) + "\n"
