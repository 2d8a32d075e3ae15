"""Read format descriptors from YAML and say precisely what is wrong: file, line, field path, reason.

PyYAML's constructed data forgets where each value came from, so the document is first *composed* into a
node tree (every node keeps its start line), checked for duplicate keys (which PyYAML would silently
collapse to the last one), then constructed and validated by the pydantic model. Errors are traced back to
their lines in the node tree by `descriptors.problems`.

libyaml's C composer is used when PyYAML has it: the same safe constructor and resolver as ``SafeLoader``,
and much faster, which matters because DAG parsing validates every descriptor.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from yaml.nodes import MappingNode, Node, SequenceNode

from airflow_provider_datalake.descriptors.model import Descriptor
from airflow_provider_datalake.descriptors.problems import (
    DescriptorError,
    Problem,
    format_path,
    key_value,
    line_of,
    locate,
    validation_problems,
)

__all__ = [
    "MAX_DESCRIPTOR_BYTES",
    "DescriptorError",
    "LoadedFile",
    "Problem",
    "descriptor_files",
    "load_descriptor",
    "load_files",
    "load_many",
    "parse_descriptor",
    "plain_data",
    "validate_data",
]

#: A descriptor is a page of YAML; anything far bigger is a mistake (or an attack on the parser).
MAX_DESCRIPTOR_BYTES = 1024 * 1024

_SafeLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_YAML_SUFFIXES = (".yaml", ".yml")
_MERGE_KEY = "tag:yaml.org,2002:merge"


# ------------------------------------------------------------------------------------------------ reading


def _looks_like_path(value: str) -> bool:
    """A str is a path only if it is one line ending in .yaml/.yml; anything else is YAML text.

    Deliberately not "any existing file": text that comes from the catalog must never make us read a
    file from disk (and quote it back in an error message).
    """
    return "\n" not in value and value.strip().lower().endswith(_YAML_SUFFIXES)


def _read_source(path_or_text: str | os.PathLike[str] | bytes, source_name: str | None) -> tuple[str, str]:
    """(text, name to show in messages); unreadable or undecodable input raises DescriptorError."""
    if isinstance(path_or_text, os.PathLike) or (
        isinstance(path_or_text, str) and _looks_like_path(path_or_text)
    ):
        path = Path(path_or_text)
        source = source_name or str(path)
        try:
            if path.stat().st_size > MAX_DESCRIPTOR_BYTES:
                raise DescriptorError([Problem(source, None, "", _too_big_message())])
            raw = path.read_bytes()
        except OSError as exc:
            raise DescriptorError(
                [Problem(source, None, "", f"cannot read: {exc.strerror or exc}")]
            ) from None
    elif isinstance(path_or_text, bytes):
        source, raw = source_name or "<bytes>", path_or_text
    else:
        return _check_size(str(path_or_text), source_name or "<string>"), source_name or "<string>"
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise DescriptorError(
            [Problem(source, line, "", f"not UTF-8 text ({exc.reason} at byte {exc.start})")]
        ) from None
    return _check_size(text, source), source


def _too_big_message() -> str:
    return f"larger than {MAX_DESCRIPTOR_BYTES // 1024} KiB: not a format descriptor"


def _check_size(text: str, source: str) -> str:
    if len(text) > MAX_DESCRIPTOR_BYTES:
        raise DescriptorError([Problem(source, None, "", _too_big_message())])
    return text


def _yaml_error(exc: yaml.YAMLError, text: str, source: str) -> DescriptorError:
    """One line per YAML error: 'while parsing a block mapping: expected <block end>, but found ...'."""
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    line = mark.line + 1 if mark is not None else None
    if isinstance(exc, yaml.MarkedYAMLError):
        message = ": ".join(p for p in (exc.context, exc.problem) if p) or "invalid YAML"
    elif isinstance(exc, yaml.reader.ReaderError):  # a control character, say
        line = text.count("\n", 0, exc.position) + 1
        char = chr(exc.character) if isinstance(exc.character, int) else exc.character  # libyaml: an int
        message = f"character {char!r} is not allowed in YAML"
    else:
        message = str(exc).splitlines()[0]
    what = "YAML error" if isinstance(exc, yaml.constructor.ConstructorError) else "YAML syntax error"
    return DescriptorError([Problem(source, line, "", f"{what}: {' '.join(message.split())}")])


def _duplicate_keys(root: Node, source: str) -> list[Problem]:
    """PyYAML keeps the last of two equal keys without a word; a descriptor author means one of them."""
    problems: list[Problem] = []
    seen_nodes: set[int] = set()  # aliases share nodes: visit each once (no exponential walk)
    stack: list[tuple[Node, tuple[Any, ...]]] = [(root, ())]
    while stack:
        node, path = stack.pop()
        if id(node) in seen_nodes:
            continue
        seen_nodes.add(id(node))
        if isinstance(node, MappingNode):
            first: dict[Any, int] = {}
            for key_node, value_node in node.value:
                if key_node.tag == _MERGE_KEY:
                    continue  # `<<: *base` entries are meant to be overridden
                key = key_value(key_node)
                try:
                    earlier = first.get(key)
                except TypeError:  # unhashable complex key: the model will reject it anyway
                    earlier = None
                    key = None
                if earlier is not None:
                    problems.append(
                        Problem(
                            source,
                            line_of(key_node),
                            format_path((*path, key)),
                            f"duplicate key {key!r} (first at line {earlier}); YAML would silently keep "
                            "only the last one",
                        )
                    )
                elif key is not None:
                    first[key] = line_of(key_node)
                stack.append((value_node, (*path, key)))
        elif isinstance(node, SequenceNode):
            stack.extend((item, (*path, index)) for index, item in enumerate(node.value))
    return sorted(problems, key=lambda p: p.line or 0)


def _compose(text: str, source: str) -> tuple[Any, MappingNode, list[Problem]]:
    """Parse one YAML document into (plain data, node tree, duplicate keys); the document must be a
    non-empty mapping. Duplicate keys are returned, not raised, so they are reported with the rest."""
    loader = _SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            raise DescriptorError([Problem(source, 1, "", "empty document: a descriptor is a YAML mapping")])
        if not isinstance(node, MappingNode):
            kind = "a list" if isinstance(node, SequenceNode) else f"a scalar ({node.value!r:.40})"
            raise DescriptorError(
                [Problem(source, line_of(node), "", f"a descriptor must be a YAML mapping, not {kind}")]
            )
        duplicates = _duplicate_keys(node, source)
        data = loader.construct_document(node)
    except yaml.YAMLError as exc:
        raise _yaml_error(exc, text, source) from None
    finally:
        loader.dispose()
    return data, node, duplicates


# ------------------------------------------------------------------------------------------------- public


def load_descriptor(
    path_or_text: str | os.PathLike[str] | bytes, *, source_name: str | None = None
) -> Descriptor:
    """Validate one descriptor; every problem found is raised at once in a DescriptorError.

    ``path_or_text`` is a path (an ``os.PathLike``, or a one-line str ending in ``.yaml``/``.yml``) or
    the YAML text itself (any other str, or bytes). ``source_name`` is what messages call the file
    (default: the path, or ``<string>``).
    """
    text, source = _read_source(path_or_text, source_name)
    return _parse(text, source)


def parse_descriptor(text: str, *, source_name: str = "<string>") -> Descriptor:
    """Validate YAML text; never treats its argument as a path (use this for text from the catalog)."""
    return _parse(_check_size(text, source_name), source_name)


def _parse(text: str, source: str) -> Descriptor:
    data, root, duplicates = _compose(text, source)
    try:
        desc = Descriptor.model_validate(data)
    except ValidationError as exc:
        problems = validation_problems(exc, root, source, duplicates)
    else:
        if not duplicates:
            return desc
        problems = validation_problems(None, root, source, duplicates)
    name = data.get("name") if isinstance(data.get("name"), str) else None
    raise DescriptorError(problems, name=name) from None


def plain_data(text: str) -> dict[str, Any] | None:
    """The YAML's mapping if JSON holds it exactly (no dates, sets, NaN...) and it has no duplicate keys.

    Lets the descriptor cache keep a pre-parsed copy, so DAG parsing validates with pydantic alone and
    needs PyYAML's (slow, pure-Python) constructor only to locate errors.
    """
    try:
        data, _, duplicates = _compose(_check_size(text, "<cache>"), "<cache>")
        if duplicates:
            return None
        return data if json.loads(json.dumps(data, allow_nan=False)) == data else None
    except (DescriptorError, TypeError, ValueError):
        return None


def validate_data(data: Any, text: str, *, source_name: str) -> Descriptor:
    """Validate already-parsed ``data`` (from ``plain_data(text)``); on failure, re-read ``text`` so that
    the error carries line numbers."""
    try:
        return Descriptor.model_validate(data)
    except ValidationError:
        return parse_descriptor(text, source_name=source_name)


def descriptor_files(paths: Iterable[str | os.PathLike[str]]) -> Iterator[Path]:
    """Paths as given, with each directory replaced by its *.yaml / *.yml files (sorted, not recursive)."""
    for item in paths:
        path = Path(item)
        if path.is_dir():
            yield from sorted(p for p in path.iterdir() if p.suffix in _YAML_SUFFIXES and p.is_file())
        else:
            yield path


@dataclass(frozen=True, slots=True)
class LoadedFile:
    """One file of a batch: its text (None if unreadable) and either its descriptor or its error."""

    path: Path
    text: str | None
    descriptor: Descriptor | None
    error: DescriptorError | None


def load_files(paths: Iterable[str | os.PathLike[str]]) -> list[LoadedFile]:
    """Load every file (directories expand to their YAML files); one bad file never stops the others.

    Two files defining the same ``name`` would fight over one DAG: the later file is reported as an error.
    """
    loaded: list[LoadedFile] = []
    defined_in: dict[str, str] = {}
    for path in descriptor_files(paths):
        text: str | None = None
        try:
            text, source = _read_source(path, None)
            desc = _parse(text, source)
        except DescriptorError as exc:
            loaded.append(LoadedFile(path, text, None, exc))
            continue
        if desc.name in defined_in:
            where = locate(_compose(text, str(path))[1], ("name",)).line
            problem = Problem(
                str(path), where, "name", f"{desc.name!r} is already defined in {defined_in[desc.name]}"
            )
            loaded.append(LoadedFile(path, text, None, DescriptorError([problem], name=desc.name)))
            continue
        defined_in[desc.name] = str(path)
        loaded.append(LoadedFile(path, text, desc, None))
    return loaded


def load_many(
    paths: Iterable[str | os.PathLike[str]],
) -> tuple[list[Descriptor], list[DescriptorError]]:
    """The valid descriptors and the errors of the others, in file order (see ``load_files``)."""
    loaded = load_files(paths)
    return (
        [f.descriptor for f in loaded if f.descriptor is not None],
        [f.error for f in loaded if f.error is not None],
    )
