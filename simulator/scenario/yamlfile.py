"""Reading a scenario file safely, keeping the line and column of every key and value.

The YAML is composed into nodes by a safe loader that refuses collections nested more than
:data:`MAX_DEPTH` deep and files of more than :data:`MAX_NODES` nodes. Aliases stay shared
while composing, so an alias bomb costs nothing yet; before any Python value is built, the
size of the document *with every alias expanded* is counted (each shared node once) and a
document larger than :data:`MAX_NODES` is rejected. Time and memory stay bounded whatever the
anchors do. Duplicate keys are errors; merge keys (``<<: *base``) work as in YAML 1.1, keys
written in the mapping itself taking precedence over merged ones.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from simulator.scenario.errors import Problem, ScenarioError

MAX_BYTES = 5 * 1024 * 1024
MAX_NODES = 200_000
MAX_DEPTH = 64

Path_ = tuple  # a location in the document: keys and list indexes from the root

_MERGE_TAG = "tag:yaml.org,2002:merge"
_NULL_TAG = "tag:yaml.org,2002:null"


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
            marks = (
                (self.key_marks, self.value_marks) if at_key else (self.value_marks, self.key_marks)
            )
            for table in marks:
                if path in table:
                    return table[path]
            path = path[:-1]
            at_key = True
        return self.value_marks.get((), (1, 1))

    def problem(
        self,
        path: Path_,
        message: str,
        *,
        at_key: bool | None = None,
        field_name: str | None = None,
    ) -> Problem:
        """A :class:`Problem` located at ``path``.

        Parameters
        ----------
        path : tuple
            Keys and list indexes from the root.
        message : str
            What is wrong.
        at_key : bool, optional
            Point at the key rather than at the value. By default, the key when the value is
            a mapping or a list (its first line is the key's), else the value.
        field_name : str, optional
            The field shown in the message; ``path`` dotted by default.
        """
        if at_key is None:
            at_key = isinstance(value_at(self.data, path), (dict, list))
        line, column = self.locate(path, at_key=at_key)
        name = field_name if field_name is not None else dotted(path)
        return Problem(self.file, line, column, name, message)


def dotted(path: Path_) -> str:
    """``("offers", "saas", "churn")`` -> ``offers.saas.churn``; a boolean key as ``true``."""
    return ".".join(str(p).lower() if isinstance(p, bool) else str(p) for p in path)


def value_at(data: Any, path: Path_) -> Any:
    """``data[k0][k1]...``, or ``None`` when the path does not lead anywhere."""
    for key in path:
        if isinstance(data, dict):
            data = data.get(key)
        elif isinstance(data, list) and isinstance(key, int) and 0 <= key < len(data):
            data = data[key]
        else:
            return None
    return data


def read_document(path: str | Path, display_name: str | None = None) -> Document:
    """Read and parse a scenario file; raise :class:`ScenarioError` with one clear problem."""
    name = display_name or str(path)
    try:
        size = Path(path).stat().st_size
        if size > MAX_BYTES:
            raise _single(
                name,
                f"file is {size / 2**20:.1f} MiB; a scenario is at most {MAX_BYTES // 2**20} MiB",
            )
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise _single(name, f"cannot read the file: {exc.strerror}") from None
    return parse_text(raw, name)


def parse_text(raw: bytes | str, name: str) -> Document:
    """Parse YAML text (bytes or str) into a :class:`Document`."""
    text = _decode(raw, name) if isinstance(raw, bytes) else raw
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        _check_top(node, name)
        _check_size(node, name)
        document = Document({}, name)
        document.data = _Builder(loader, document).build(node, ())
        return document
    except _LimitError as exc:
        raise _single(name, exc.message, exc.mark, exc.field_name) from None
    except yaml.MarkedYAMLError as exc:
        message, mark = _syntax_message(exc)
        raise _single(name, f"YAML syntax: {message}", mark) from None
    except yaml.YAMLError as exc:
        raise _single(name, f"YAML syntax: {exc}") from None
    except RecursionError:
        raise _single(name, "the document is nested too deeply") from None
    finally:
        loader.dispose()


def _decode(raw: bytes, name: str) -> str:
    """UTF-8 text of a file, or a problem pointing at the first byte that is not text."""
    if b"\x00" in raw:
        raise _single(
            name, "not a text file (it contains binary data); a scenario is a YAML text file"
        )
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        message = f"not UTF-8 text (byte 0x{raw[exc.start]:02x}); save the file as UTF-8"
        raise ScenarioError([Problem(name, line, column, "", message)]) from None


def _check_top(node: yaml.Node | None, name: str) -> None:
    """The document must be a mapping of sections: not empty, not a list, not a single value."""
    sections = "a mapping of sections (funnel, segments, offers, plans, ...)"
    if node is None or (isinstance(node, yaml.ScalarNode) and node.tag == _NULL_TAG):
        empty = "the document is empty (nothing but comments or blank lines)"
        raise _single(name, f"{empty}; a scenario is {sections}")
    if not isinstance(node, yaml.MappingNode):
        kind = "a list" if isinstance(node, yaml.SequenceNode) else "a single value"
        raise _single(name, f"the top level must be {sections}, not {kind}", node.start_mark)


def _syntax_message(exc: yaml.MarkedYAMLError) -> tuple[str, yaml.Mark | None]:
    """A readable message for a YAML parser error, and where it happened."""
    mark = exc.problem_mark or exc.context_mark
    problem, context = exc.problem or "", exc.context or ""
    if "'\\t'" in problem:
        return "a tab character; YAML indents and separates with spaces, not tabs", mark
    if context.startswith("expected a single document"):
        return (
            "a second document starts here; a scenario file holds a single YAML document "
            "(remove the '---' line and what follows, or split the file)"
        ), mark
    if "could not determine a constructor" in problem:
        tag = problem.rsplit(" ", 1)[-1]
        return (
            f"the YAML tag {tag} is not allowed; a scenario holds plain values, lists and mappings",
            mark,
        )
    where = (
        f" at line {exc.context_mark.line + 1}, column {exc.context_mark.column + 1}"
        if exc.context_mark is not None
        else ""
    )
    if context.startswith("found duplicate anchor"):
        anchor = context.split("'")[1] if "'" in context else "?"
        return (
            f"the anchor &{anchor} is defined twice (first{where}); give each anchor its own name",
            mark,
        )
    if context and where and exc.context_mark is not mark:
        return f"{problem} ({context}{where})", mark
    return " ".join(part for part in (context, problem) if part), mark


class _LimitError(yaml.YAMLError):
    """A document beyond the size or depth limits; ``message`` says which."""

    def __init__(self, message: str, mark: yaml.Mark | None, field_name: str = ""):
        super().__init__(message)
        self.message = message
        self.mark = mark
        self.field_name = field_name


class _Loader(yaml.SafeLoader):
    """A safe loader that bounds nesting depth and the number of composed nodes.

    Deep nesting would otherwise exhaust Python's stack (and PyYAML's flow scanner is
    quadratic in the depth); a huge node count would take time and memory before any check.
    """

    def __init__(self, stream: str):
        super().__init__(stream)
        self.composed = 0

    def _check_depth(self) -> None:
        if self.flow_level + len(self.indents) > MAX_DEPTH:
            raise _LimitError(
                f"lists and mappings are nested more than {MAX_DEPTH} levels deep", self.get_mark()
            )

    def fetch_flow_collection_start(self, token_class):  # PyYAML hook
        super().fetch_flow_collection_start(token_class)
        self._check_depth()

    def add_indent(self, column):  # PyYAML hook
        added = super().add_indent(column)
        if added:
            self._check_depth()
        return added

    def compose_node(self, parent, index):  # PyYAML hook
        self.composed += 1
        if self.composed > MAX_NODES:
            raise _LimitError(
                f"the file holds more than {MAX_NODES:,} values", self.peek_event().start_mark
            )
        return super().compose_node(parent, index)


def _check_size(root: yaml.MappingNode, name: str) -> None:
    """Reject a document whose aliases expand to more than :data:`MAX_NODES` nodes.

    Sizes are memoised per node, so shared (aliased) blocks are counted once each: the check
    takes time proportional to the file, not to its expansion. A recursive alias is an error.
    """
    sizes: dict[int, int] = {}
    for key_node, value_node in root.value:
        if _expanded_size(value_node, sizes, set()) > MAX_NODES:
            raise _LimitError(
                f"expands to more than {MAX_NODES:,} values once its aliases are "
                "expanded (are YAML aliases repeating a large block?)",
                key_node.start_mark,
                str(key_node.value),
            )
    if _expanded_size(root, sizes, set()) > MAX_NODES:
        raise _LimitError(
            f"the document expands to more than {MAX_NODES:,} values "
            "(are YAML aliases repeating a large block?)",
            root.start_mark,
        )


def _expanded_size(node: yaml.Node, sizes: dict[int, int], open_nodes: set[int]) -> int:
    """Nodes under ``node`` once aliases are expanded, saturating just above MAX_NODES."""
    key = id(node)
    if key in sizes:
        return sizes[key]
    if key in open_nodes:
        raise _LimitError(
            "an alias refers to a block that contains it (a recursive alias)", node.start_mark
        )
    open_nodes.add(key)
    if isinstance(node, yaml.MappingNode):
        children = [child for pair in node.value for child in pair]
    elif isinstance(node, yaml.SequenceNode):
        children = node.value
    else:
        children = []
    total = 1
    for child in children:
        total = min(total + _expanded_size(child, sizes, open_nodes), MAX_NODES + 1)
    open_nodes.discard(key)
    sizes[key] = total
    return total


class _Builder:
    """Turns YAML nodes into Python, recording marks and refusing duplicate keys."""

    def __init__(self, loader: yaml.SafeLoader, document: Document):
        self.loader = loader
        self.document = document

    def build(self, node: yaml.Node, path: Path_) -> Any:
        self.document.value_marks.setdefault(path, _mark(node.start_mark))
        if isinstance(node, yaml.MappingNode):
            out: dict = {}
            for key, (key_node, value_node) in self.entries(node, path).items():
                self.document.key_marks[(*path, key)] = _mark(key_node.start_mark)
                out[key] = self.build(value_node, (*path, key))
            return out
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
        return self.loader.construct_object(node)

    def entries(self, node: yaml.MappingNode, path: Path_) -> dict:
        """``{key: (key_node, value_node)}``: merged entries first, then the mapping's own.

        Among merged mappings the first listed wins (YAML 1.1 merge); the mapping's own keys
        override merged ones; an own key given twice is an error.
        """
        out: dict = {}
        own: dict = {}
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                for key, entry in self.merged(value_node, path).items():
                    out.setdefault(key, entry)
                continue
            key = self.key(key_node)
            if key in own:
                first = own[key].start_mark.line + 1
                raise _single(
                    self.document.file,
                    f"duplicate key {key!r} (first given at line {first})",
                    key_node.start_mark,
                    dotted((*path, key)),
                )
            own[key] = key_node
            out[key] = (key_node, value_node)
        return out

    def merged(self, value_node: yaml.Node, path: Path_) -> dict:
        """Entries brought in by a merge key: a mapping or a list of mappings."""
        sources = value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]
        out: dict = {}
        for source in sources:
            if not isinstance(source, yaml.MappingNode):
                raise _single(
                    self.document.file,
                    "a merge key '<<' takes a mapping or a list of mappings",
                    source.start_mark,
                    dotted(path),
                )
            for key, entry in self.entries(source, path).items():
                out.setdefault(key, entry)
        return out

    def key(self, key_node: yaml.Node) -> Any:
        if not isinstance(key_node, yaml.ScalarNode):
            raise _single(
                self.document.file,
                "a key must be a plain name or number, not a list or a mapping",
                key_node.start_mark,
            )
        return self.loader.construct_object(key_node)


def _mark(mark: yaml.Mark) -> tuple[int, int]:
    return mark.line + 1, mark.column + 1


def _single(
    name: str, message: str, mark: yaml.Mark | None = None, field_name: str = ""
) -> ScenarioError:
    line, column = _mark(mark) if mark is not None else (1, 1)
    return ScenarioError([Problem(name, line, column, field_name, message)])
