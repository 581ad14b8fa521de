"""Load YAML while remembering the line of every key and list item, for `file:line:` messages.

The text is parsed and composed by libyaml (PyYAML's C parser) when PyYAML has it, as the PyPI wheels do:
the pure-Python parser costs about 10 ms per kB, so a 10 MB spec would take minutes. libyaml refuses
nesting deeper than 1000 levels itself. The node graph is then turned into plain values here, with
three bounds that make hostile input fail fast with one line instead of exhausting the machine:

- aliases: an alias is a reference to an anchored node, so a few lines can stand for billions of values
  (an "alias bomb"). The values built again through aliases may add at most `ALIAS_BUDGET` plus as many
  as the document holds without them; beyond that the document is refused.
- recursion: an alias inside its own anchor (`x: &a [*a]`) would stand for an infinite value; refused.
- depth: values nested deeper than `MAX_DEPTH` levels are refused (a spec needs about a dozen).
"""

from __future__ import annotations

import contextlib
import gc
import re
from collections.abc import Iterator
from typing import Any

import yaml
from yaml.constructor import SafeConstructor

Path_ = tuple[Any, ...]

ALIAS_BUDGET = 10_000
"""Values that aliases may add beyond the document's own count of values."""
MAX_DEPTH = 64
"""The deepest nesting of mappings and lists accepted."""
_STR_TAG = "tag:yaml.org,2002:str"
_INT_TAG = "tag:yaml.org,2002:int"
_FLOAT_TAG = "tag:yaml.org,2002:float"
_PLAIN_FLOAT = re.compile(r"[-+]?[0-9]+\.[0-9]*(?:[eE][-+][0-9]+)?")
"""A float PyYAML's resolver tags as one and Python's float() reads the same (no '_', ':', '.inf' or '.nan')."""
_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_CONSTRUCTOR = SafeConstructor()


class YAMLRefused(yaml.MarkedYAMLError):
    """Valid YAML that is refused: an alias bomb, a recursive alias, or nesting too deep. `problem` says which."""

    def __init__(self, problem: str, line: int | None, path: Path_) -> None:
        mark = yaml.error.Mark("<spec>", 0, line - 1, 0, None, None) if line else None
        super().__init__(problem=problem, problem_mark=mark)
        self.path = path


def load_with_lines(text: str) -> tuple[Any, dict[Path_, int]]:
    """Parse `text`; return the data and a map from each path (tuple of keys/indexes) to its 1-based line.

    Raises yaml.YAMLError (with `problem_mark`) on a syntax error or a duplicate key (a silent overwrite would
    hide a user's mistake), and its subclass YAMLRefused on input beyond the bounds of the module doc.
    """
    lines: dict[Path_, int] = {}
    with _no_cycle_collection():
        loader = _LOADER(text)
        try:
            node = loader.get_single_node()
        finally:
            loader.dispose()
        value = None if node is None else _Builder(lines).build(node, ())
        del node  # the node graph is freed here, while the collector is paused
    return value, lines


@contextlib.contextmanager
def _no_cycle_collection() -> Iterator[None]:
    """Pause Python's cycle collector: loading makes millions of objects and no cycles, and each collection it
    triggers scans all of them (with it a 10 MB spec loads in 13 s instead of 3)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


class _Builder:
    """Turns a composed node graph into values, recording lines and enforcing the bounds of the module doc."""

    def __init__(self, lines: dict[Path_, int]) -> None:
        self.lines = lines
        self.seen: set[int] = set()
        self.open: set[int] = set()
        self.sizes: dict[int, int] = {}
        self.own = 0
        self.repeated = 0
        self.repeating = False

    def build(self, node: yaml.Node, path: Path_) -> Any:
        """The value of `node` at `path`; the line of `path` is recorded by the caller (or here, for the root)."""
        lines = self.lines
        if node.__class__ is yaml.ScalarNode:
            self.own += not self.repeating
            lines.setdefault(path, node.start_mark.line + 1)
            return _scalar(node)
        key = id(node)
        repeat = key in self.seen
        if path not in lines:  # an alias is where its parent is, not where its anchor is
            lines[path] = (line_of(lines, path[:-1]) or 1) if repeat else node.start_mark.line + 1
        if key in self.open:
            raise YAMLRefused("this alias refers to the value it is part of (a recursive alias), which would be "
                              "infinite; write the value out instead", lines[path], path)
        if repeat and not self.repeating:
            self._count_repeat(node, path)
        if len(path) >= MAX_DEPTH:
            raise YAMLRefused(f"values are nested deeper than {MAX_DEPTH} levels; a group spec needs far fewer",
                              lines[path], path)
        self.seen.add(key)
        self.open.add(key)
        outer, self.repeating = self.repeating, self.repeating or repeat
        try:
            return self._mapping(node, path) if isinstance(node, yaml.MappingNode) else self._sequence(node, path)
        finally:
            self.open.discard(key)
            self.repeating = outer

    def _mapping(self, node: yaml.MappingNode, path: Path_) -> dict[Any, Any]:
        lines, scalar_class = self.lines, yaml.ScalarNode
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            name = _scalar(key_node)
            if name in result:
                raise yaml.constructor.ConstructorError(None, None, f"duplicate key {name!r}", key_node.start_mark)
            child = (*path, name)
            lines[child] = key_node.start_mark.line + 1
            if value_node.__class__ is scalar_class:  # most values: built here, without a call
                self.own += not self.repeating
                result[name] = value_node.value if value_node.tag == _STR_TAG else _scalar(value_node)
            else:
                result[name] = self.build(value_node, child)
        return result

    def _sequence(self, node: yaml.SequenceNode, path: Path_) -> list[Any]:
        lines, scalar_class = self.lines, yaml.ScalarNode
        result: list[Any] = []
        for index, item in enumerate(node.value):
            child = (*path, index)
            if item.__class__ is scalar_class:
                self.own += not self.repeating
                lines[child] = item.start_mark.line + 1
                result.append(item.value if item.tag == _STR_TAG else _scalar(item))
            else:
                result.append(self.build(item, child))
        return result

    def _count_repeat(self, node: yaml.Node, path: Path_) -> None:
        """Count the values `node` adds when built again through an alias; refuse past the budget."""
        self.repeated += _size(node, self.sizes)
        allowed = ALIAS_BUDGET + self.own
        if self.repeated > allowed:
            raise YAMLRefused(f"aliases here expand the document beyond {allowed:,} values (aliases may add "
                              f"{ALIAS_BUDGET:,} values plus as many as the document holds); write the values out "
                              "or use fewer nested aliases", line_of(self.lines, path), path)


def _size(node: yaml.Node, sizes: dict[int, int]) -> int:
    """How many values `node` stands for once every alias in it is expanded (memoized in `sizes`)."""
    if isinstance(node, yaml.ScalarNode):
        return 1
    known = sizes.get(id(node))
    if known is not None:
        return known
    sizes[id(node)] = 0  # a recursive alias counts once; building it is refused where it is met
    children = (value for pair in node.value for value in pair) if isinstance(node, yaml.MappingNode) else node.value
    total = 1 + sum(_size(child, sizes) for child in children)
    sizes[id(node)] = total
    return total


def _scalar(node: yaml.Node) -> Any:
    """The value of a scalar node as PyYAML's SafeLoader gives it; plain decimal numbers without its machinery."""
    if node.__class__ is not yaml.ScalarNode:
        raise yaml.constructor.ConstructorError(
            None, None, "a mapping key must be a plain value", node.start_mark
        )
    tag, value = node.tag, node.value
    if tag == _STR_TAG:
        return value
    if tag == _INT_TAG and value.isascii() and value.isdigit() and (value[0] != "0" or value == "0"):
        return int(value)  # a leading 0 is octal in YAML 1.1
    if tag == _FLOAT_TAG and value.isascii() and _PLAIN_FLOAT.fullmatch(value):
        return float(value)
    construct = SafeConstructor.yaml_constructors.get(tag, SafeConstructor.yaml_constructors[None])
    return construct(_CONSTRUCTOR, node)


def line_of(lines: dict[Path_, int], path: Path_) -> int | None:
    """The line of `path`, or of its closest ancestor that has one."""
    for end in range(len(path), -1, -1):
        line = lines.get(tuple(path[:end]))
        if line is not None:
            return line
    return None
