"""Every rule carries its own examples; this one generic test runs them all (as sqlfluff does).

A rule must match each of its `match` examples, win them against the whole catalog, and
match none of its `no_match` examples. Its patterns exported for grep must agree with
Python on every example, and both scanners must find every example line.
"""

from __future__ import annotations

import shutil
import subprocess
from collections import Counter

import pytest

from paydiag.catalog import Catalog, Rule, load_catalog
from paydiag.catalog.patterns import portability_problems, to_ere
from paydiag.match import Matcher
from paydiag.match.scanners import available_engines, make_scanner

CATALOG = load_catalog().catalog
RULES = sorted(CATALOG.rules, key=lambda rule: rule.id)
MATCHER = Matcher(CATALOG.rules)


@pytest.mark.parametrize("rule", RULES, ids=lambda rule: rule.id)
def test_rule_matches_its_own_examples(rule: Rule) -> None:
    for line in rule.examples.match:
        assert rule.match.matches(line), f"{rule.id} misses its example: {line}"
        winner = MATCHER.best(line)
        assert winner is not None and winner.id == rule.id, (
            f"{rule.id}'s example is won by {winner.id if winner else None}: {line}"
        )
    for line in rule.examples.no_match:
        assert not rule.match.matches(line), f"{rule.id} matches its near miss: {line}"


def test_catalog_loads_without_problems() -> None:
    result = load_catalog()
    assert result.problems == ()


def test_every_pattern_is_in_the_portable_subset() -> None:
    problems = {
        (rule.id, pattern.pattern): portability_problems(pattern.pattern)
        for rule in RULES
        for pattern in rule.match.patterns
    }
    assert {key: value for key, value in problems.items() if value} == {}


@pytest.mark.skipif(shutil.which("grep") is None, reason="needs grep")
def test_exported_grep_patterns_agree_with_python_on_every_example(tmp_path) -> None:  # type: ignore[no-untyped-def]
    lines = sorted(
        {line for rule in RULES for line in (*rule.examples.match, *rule.examples.no_match)}
    )
    lines = [line for line in lines if "\n" not in line]
    corpus = tmp_path / "examples.txt"
    corpus.write_text("\n".join(lines) + "\n", encoding="utf-8")
    disagreements = []
    for rule in RULES:
        for pattern in rule.match.patterns:
            result = subprocess.run(
                ["grep", "-nE", "--", to_ere(pattern.pattern), str(corpus)],
                capture_output=True,
                text=True,
                env={"LC_ALL": "C"},
                check=False,
            )
            assert result.returncode in (0, 1), result.stderr
            by_grep = {int(row.split(":", 1)[0]) - 1 for row in result.stdout.splitlines()}
            by_python = {i for i, line in enumerate(lines) if pattern.search(line)}
            if by_grep != by_python:
                disagreements.append((rule.id, pattern.pattern))
    assert disagreements == []


@pytest.mark.parametrize("engine", available_engines())
def test_scanner_finds_every_match_example(engine: str) -> None:
    scanner = make_scanner(CATALOG.rules, engine)
    for rule in RULES:
        for line in rule.examples.match:
            data = line.encode("utf-8") + b"\n"
            assert scanner.hits(data), f"{engine} scanner misses {rule.id}: {line}"


def _gateway_counts(catalog: Catalog) -> Counter[str]:
    return Counter(rule.gateway for rule in catalog.rules)


def test_catalog_covers_at_least_300_rules_and_8_gateways_with_10_each() -> None:
    counts = _gateway_counts(CATALOG)
    assert len(CATALOG) >= 300
    assert sum(1 for count in counts.values() if count >= 10) >= 8, counts


def test_every_rule_cites_documentation_and_has_both_kinds_of_example() -> None:
    for rule in RULES:
        assert rule.references and all(url.startswith("https://") for url in rule.references)
        assert rule.examples.match and rule.examples.no_match


def test_customer_and_issuer_rules_say_what_to_tell_the_shopper() -> None:
    missing = [r.id for r in RULES if r.fault in ("customer", "issuer") and not r.shopper_message]
    assert missing == []
