"""YAML loading that remembers line numbers, so every catalog problem can say file:line."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any


class LineDict(dict[str, Any]):
    """A mapping from a YAML file, with the line it starts on and the line of each key."""

    line: int = 0
    key_lines: dict[str, int]


class LineList(list[Any]):
    """A sequence from a YAML file, with the line of each item."""

    item_lines: list[int]


@cache
def _line_loader() -> Any:
    """A YAML loader that makes LineDicts and LineLists: made on first use, since the
    catalog is read from its cache on most runs and PyYAML takes a while to import."""
    import yaml

    # libyaml's C parser when PyYAML has it: the catalog is megabytes of YAML.
    base: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

    class LineLoader(base):  # type: ignore[valid-type,misc]
        pass

    LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)
    LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _sequence)
    return LineLoader


def _mapping(loader: Any, node: Any) -> LineDict:
    mapping = LineDict((str(k), v) for k, v in loader.construct_mapping(node, deep=True).items())
    mapping.line = node.start_mark.line + 1
    mapping.key_lines = {
        str(key.value): key.start_mark.line + 1 for key, _ in node.value if hasattr(key, "value")
    }
    return mapping


def _sequence(loader: Any, node: Any) -> LineList:
    sequence = LineList(loader.construct_sequence(node, deep=True))
    sequence.item_lines = [item.start_mark.line + 1 for item in node.value]
    return sequence


class YamlError(Exception):
    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


def load_yaml(path: Path) -> Any:
    """Parse one YAML file; raises YamlError with the line of a syntax error."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise YamlError(0, f"cannot read: {error}") from None
    import yaml

    try:
        return yaml.load(text, Loader=_line_loader())
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 if mark else 0
        reason = " ".join(filter(None, [error.context, error.problem]))
        raise YamlError(line, f"YAML syntax error: {reason}") from None
    except yaml.YAMLError as error:
        raise YamlError(0, f"YAML error: {error}") from None


def line_of(document: Any, path: tuple[Any, ...]) -> int:
    """The line of the deepest mapping key on `path` inside `document` (0 if unknown)."""
    line = getattr(document, "line", 0)
    node = document
    for step in path:
        if isinstance(node, LineDict) and isinstance(step, str):
            line = node.key_lines.get(step, node.line)
        elif isinstance(node, LineList) and isinstance(step, int) and step < len(node):
            line = node.item_lines[step]
        try:
            node = node[step]
        except (KeyError, IndexError, TypeError):
            break
        line = getattr(node, "line", line)
    return line
