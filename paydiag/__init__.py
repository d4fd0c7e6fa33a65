"""paydiag: tells a merchant why their payments fail and what to do about it.

The pipeline reads logs, parses records into events, matches them against the rule
catalog, diagnoses findings and reports them. The CLI (`paydiag.cli`) is a thin layer
over this library API.
"""

# The one place the version is written (pyproject.toml reads it): asking the installed
# metadata instead costs every command 70 ms of imports.
__version__ = "0.1.0"
