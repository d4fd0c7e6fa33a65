"""Sound rule files are read back from the cache as the same rules; anything else is not."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from paydiag import cache
from paydiag.cache import read_cached, write_cached
from paydiag.catalog import load_catalog
from paydiag.catalog.loader import load_rule_file
from paydiag.match.requirements import catalog_requirements, pattern_requirements

from .conftest import FIXTURES

GOOD = FIXTURES / "catalogs" / "good" / "stripe_min.yaml"


@pytest.fixture(autouse=True)
def private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cache = tmp_path / "cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    return cache / "paydiag"


def _snapshot(path: Path) -> list[tuple[dict[str, object], int]]:
    rules, info, problems = load_rule_file(path)
    assert problems == [] and info is not None
    return [(rule.to_dict(), rule.source.line) for rule in rules]


def test_a_cached_file_gives_the_same_rules_and_lines(tmp_path: Path, private_cache: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_bytes(GOOD.read_bytes())
    first = _snapshot(rules)
    assert list(private_cache.glob("catalog-*.json"))
    assert _snapshot(rules) == first


def test_an_edited_file_is_not_served_from_the_cache(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_bytes(GOOD.read_bytes())
    _snapshot(rules)
    rules.write_text(GOOD.read_text().replace("title: Card declined\n", "title: Declined\n"))
    assert _snapshot(rules)[0][0]["title"] == "Declined"


def test_a_broken_file_is_never_cached(tmp_path: Path, private_cache: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(GOOD.read_text().replace("severity: low", "severity: urgent", 1))
    for _ in range(2):
        assert load_rule_file(rules)[2], "the problem must be reported on every load"
    assert not list(private_cache.glob("catalog-*.json"))


def test_a_corrupt_cache_entry_is_ignored(tmp_path: Path, private_cache: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_bytes(GOOD.read_bytes())
    first = _snapshot(rules)
    for entry in private_cache.glob("catalog-*.json"):
        entry.write_text("{not json")
    assert _snapshot(rules) == first


def test_a_cached_file_compiles_a_regex_only_when_it_is_searched(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_bytes(GOOD.read_bytes())
    load_rule_file(rules)
    cached, _info, _problems = load_rule_file(rules)
    pattern = cached[0].match.patterns[0]
    assert pattern._compiled is None
    example = cached[0].examples.match[0]
    assert pattern.search(example) is not None
    assert pattern._compiled is not None


def test_requirements_from_the_cache_are_those_computed(private_cache: Path) -> None:
    rules = load_catalog().catalog.rules
    computed = catalog_requirements(rules)
    assert list(private_cache.glob("requirements-*.json"))
    assert catalog_requirements(rules) == computed
    assert computed == [[pattern_requirements(p.pattern) for p in r.match.patterns] for r in rules]


def test_a_corrupt_requirements_entry_is_computed_again(private_cache: Path) -> None:
    rules = load_catalog().catalog.rules[:20]
    computed = catalog_requirements(rules)
    for entry in private_cache.glob("requirements-*.json"):
        entry.write_text("[[7")
    assert catalog_requirements(rules) == computed


def test_an_entry_edited_by_hand_is_not_trusted(tmp_path: Path, private_cache: Path) -> None:
    """Valid JSON with a broken regex, say: the checksum fails, so the file is read again
    (a trusted entry would have failed at the first search)."""
    rules = tmp_path / "rules.yaml"
    rules.write_bytes(GOOD.read_bytes())
    first = _snapshot(rules)
    pattern = first[0][0]["match"]["patterns"][0]  # type: ignore[index]
    for entry in private_cache.glob("catalog-*.json"):
        written = json.dumps(pattern).encode()
        edited = entry.read_bytes().replace(written, json.dumps("(unclosed").encode(), 1)
        assert edited != entry.read_bytes()
        entry.write_bytes(edited)
    cached, _info, problems = load_rule_file(rules)
    assert problems == []
    assert cached[0].match.patterns[0].search(cached[0].examples.match[0]) is not None


def test_the_least_recently_used_entries_go_beyond_the_budget(
    private_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = b"x" * 1000
    monkeypatch.setattr(cache, "MAX_CACHE_BYTES", 10 * (1000 + cache._HEADER))  # ten entries
    for number in range(10):
        write_cached(f"kind-{number}.json", data)
        os.utime(private_cache / f"kind-{number}.json", (number, number))
    assert read_cached("kind-0.json") == data  # used now: the latest
    for number in range(10, 13):
        write_cached(f"kind-{number}.json", data)
    kept = {p.name for p in private_cache.iterdir()}
    assert len(kept) == 10
    assert {"kind-0.json", "kind-12.json"} <= kept
    assert {"kind-1.json", "kind-2.json", "kind-3.json"}.isdisjoint(kept)


def test_a_damaged_entry_reads_as_none(private_cache: Path) -> None:
    write_cached("kind-x.json", b"payload")
    entry = private_cache / "kind-x.json"
    assert read_cached("kind-x.json") == b"payload"
    for damaged in (entry.read_bytes()[:-1], entry.read_bytes() + b"!", b"payload", b""):
        entry.write_bytes(damaged)
        assert read_cached("kind-x.json") is None
