"""paydiag: tells a merchant why their payments fail and what to do about it.

The pipeline reads logs, parses records into events, matches them against the rule
catalog, diagnoses findings and reports them. The CLI (`paydiag.cli`) is a thin layer
over this library API.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("paydiag")
except PackageNotFoundError:  # running from a checkout that is not installed
    __version__ = "0.0.0+unknown"
