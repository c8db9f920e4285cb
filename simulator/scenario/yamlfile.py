"""Reading a scenario file safely, keeping the line and column of every key and value.

The YAML is composed into nodes (aliases stay shared, so an alias bomb costs nothing yet),
then turned into plain Python while counting nodes: past :data:`MAX_NODES` the file is
rejected, which bounds time and memory whatever the anchors do. Duplicate keys are errors.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from simulator.scenario.errors import Problem, ScenarioError

MAX_BYTES = 5 * 1024 * 1024
MAX_NODES = 200_000

Path_ = tuple  # a location in the document: keys and list indexes from the root


@dataclass
class Document:
    """A parsed YAML document and where each of its parts stands in the file.

    Attributes
    ----------
    data : dict
        The document as plain Python.
    file : str
        The name used in error messages.
    key_marks, value_marks : dict
        ``path -> (line, column)``, 1-based, for a key and for the value it holds.
    """

    data: dict
    file: str
    key_marks: dict[Path_, tuple[int, int]] = field(default_factory=dict)
    value_marks: dict[Path_, tuple[int, int]] = field(default_factory=dict)

    def locate(self, path: Path_, *, at_key: bool = False) -> tuple[int, int]:
        """Line and column of ``path``, or of its nearest ancestor present in the file."""
        path = tuple(path)
        while path:
            marks = (self.key_marks, self.value_marks) if at_key else (self.value_marks, self.key_marks)
            for table in marks:
                if path in table:
                    return table[path]
            path = path[:-1]
            at_key = True
        return self.value_marks.get((), (1, 1))

    def problem(self, path: Path_, message: str, *, at_key: bool = False, field_name: str | None = None) -> Problem:
        line, column = self.locate(path, at_key=at_key)
        name = field_name if field_name is not None else dotted(path)
        return Problem(self.file, line, column, name, message)


def dotted(path: Path_) -> str:
    """``("offers", "saas", "churn")`` -> ``offers.saas.churn``."""
    return ".".join(str(p) for p in path)


def read_document(path: str | Path, display_name: str | None = None) -> Document:
    """Read and parse a scenario file; raise :class:`ScenarioError` with one clear problem."""
    name = display_name or str(path)
    try:
        size = Path(path).stat().st_size
        if size > MAX_BYTES:
            raise _single(name, f"file is {size / 2**20:.1f} MiB; a scenario is at most {MAX_BYTES // 2**20} MiB")
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise _single(name, f"cannot read the file: {exc.strerror}") from None
    return parse_text(raw, name)


def parse_text(raw: bytes | str, name: str) -> Document:
    """Parse YAML text (bytes or str) into a :class:`Document`."""
    if isinstance(raw, bytes):
        if b"\x00" in raw:
            raise _single(name, "not a text file (it contains binary data); a scenario is a YAML text file")
        try:
            raw = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise _single(name, f"not UTF-8 text (invalid byte at offset {exc.start})") from None
    loader = yaml.SafeLoader(raw)
    try:
        node = loader.get_single_node()
        if node is None:
            raise _single(name, "the file is empty; a scenario is a mapping of sections (funnel, segments, offers, plans, ...)")
        if not isinstance(node, yaml.MappingNode):
            kind = "a list" if isinstance(node, yaml.SequenceNode) else "a single value"
            raise _single(name, f"the top level must be a mapping of sections (funnel, offers, plans, ...), not {kind}",
                          node.start_mark)
        document = Document({}, name)
        document.data = _Builder(loader, document).build(node, ())
        return document
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        message = " ".join(str(part) for part in (exc.context, exc.problem) if part)
        raise _single(name, f"YAML syntax: {message}", mark) from None
    except yaml.YAMLError as exc:
        raise _single(name, f"YAML syntax: {exc}") from None
    except RecursionError:
        raise _single(name, "the document is nested too deeply") from None
    finally:
        loader.dispose()


class _Builder:
    """Turns YAML nodes into Python, recording marks, counting nodes, refusing duplicate keys."""

    def __init__(self, loader: yaml.SafeLoader, document: Document):
        self.loader = loader
        self.document = document
        self.count = 0

    def build(self, node: yaml.Node, path: Path_) -> Any:
        self.count += 1
        if self.count > MAX_NODES:
            raise _single(self.document.file, f"the document expands to more than {MAX_NODES:,} values "
                          "(are YAML aliases repeating a large block?)", node.start_mark)
        self.document.value_marks.setdefault(path, _mark(node.start_mark))
        if isinstance(node, yaml.MappingNode):
            self.loader.flatten_mapping(node)
            out: dict = {}
            for key_node, value_node in node.value:
                if not isinstance(key_node, yaml.ScalarNode):
                    raise _single(self.document.file, "a key must be a plain value", key_node.start_mark)
                key = self.loader.construct_object(key_node)
                if key in out:
                    raise _single(self.document.file, f"{dotted((*path, key))}: duplicate key {key!r}",
                                  key_node.start_mark)
                self.document.key_marks[(*path, key)] = _mark(key_node.start_mark)
                out[key] = self.build(value_node, (*path, key))
            return out
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
        return self.loader.construct_object(node)


def _mark(mark: yaml.Mark) -> tuple[int, int]:
    return mark.line + 1, mark.column + 1


def _single(name: str, message: str, mark: yaml.Mark | None = None) -> ScenarioError:
    line, column = _mark(mark) if mark is not None else (1, 1)
    return ScenarioError([Problem(name, line, column, "", message)])
