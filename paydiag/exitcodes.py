"""The exit codes paydiag documents (README, --help). CI steps depend on them."""

OK = 0
FINDINGS = 1  # findings at or above --fail-on; for `explain`, an unknown code
USAGE = 2  # bad command line or unreadable input
CATALOG = 3  # the rule catalog (built-in or --rules) is broken

HELP = (
    "Exit codes: 0 nothing at or above --fail-on; 1 findings at or above it; "
    "2 usage or input error; 3 rule catalog error."
)
