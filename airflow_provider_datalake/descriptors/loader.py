"""Read format descriptors from YAML and say precisely what is wrong: file, line, field path, reason.

PyYAML's constructed data forgets where each value came from, so the document is first *composed* into a
node tree (every node keeps its start line), checked for duplicate keys (which PyYAML would silently
collapse to the last one), then constructed and validated by the pydantic model. Each pydantic error's
``loc`` tuple is walked back down the node tree to the line of the offending key or list item.

libyaml's C composer is used when PyYAML has it: same safe constructor and resolver as ``SafeLoader``, about
ten times faster, which matters when DAG parsing validates a thousand descriptors.
"""

from __future__ import annotations

import difflib
import json
import os
import types
import typing
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Union

import yaml
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from airflow_provider_datalake.descriptors.model import (
    CONSISTENCY_ERROR,
    IDENTIFIER,
    TYPE_ALIASES,
    Descriptor,
    FieldType,
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
#: One broken descriptor can produce thousands of errors (e.g. a huge list); the first ones are enough.
MAX_PROBLEMS = 50

_SafeLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # type: ignore[assignment]
_YAML_SUFFIXES = (".yaml", ".yml")
_MERGE_KEY = "tag:yaml.org,2002:merge"
_STR_TAG = "tag:yaml.org,2002:str"
_TYPE_NAMES = {t.value for t in FieldType}
# How a discriminated union is named in messages, by the field that holds it.
_UNION_NOUNS = {"parser": "parser kind", "converters": "converter", "targets": "target store"}


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with one descriptor; ``line`` is 1-based, None when the file could not be read."""

    file: str
    line: int | None
    field_path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        return (
            f"{where}: {self.field_path}: {self.message}" if self.field_path else f"{where}: {self.message}"
        )


class DescriptorError(ValueError):
    """A descriptor that cannot be used; ``str()`` gives one ``file:line: path: message`` line per problem."""

    def __init__(self, problems: Sequence[Problem], *, name: str | None = None) -> None:
        self.problems: list[Problem] = list(problems)
        self.name = name  # the descriptor's `name`, when it could be read (the cache keys errors by it)
        super().__init__("\n".join(str(p) for p in self.problems))

    @property
    def file(self) -> str:
        return self.problems[0].file if self.problems else "<unknown>"


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


def _key_value(node: Node) -> Any:
    """The Python value of a scalar mapping key, resolved exactly as the safe constructor would."""
    if not isinstance(node, ScalarNode):
        return None
    if node.tag == _STR_TAG:  # nearly every key: skip the constructor
        return node.value
    constructor = yaml.SafeLoader.yaml_constructors.get(node.tag)
    if constructor is None:
        return node.value
    try:
        return constructor(_KEY_CONSTRUCTOR, node)
    except (yaml.YAMLError, ValueError, TypeError):
        return node.value


_KEY_CONSTRUCTOR = yaml.constructor.SafeConstructor()


def _line(node: Node) -> int:
    return node.start_mark.line + 1


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
                key = _key_value(key_node)
                try:
                    earlier = first.get(key)
                except TypeError:  # unhashable complex key: the model will reject it anyway
                    earlier = None
                    key = None
                if earlier is not None:
                    problems.append(
                        Problem(
                            source,
                            _line(key_node),
                            _format_path((*path, key)),
                            f"duplicate key {key!r} (first at line {earlier}); YAML would silently keep "
                            "only the last one",
                        )
                    )
                elif key is not None:
                    first[key] = _line(key_node)
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
                [Problem(source, _line(node), "", f"a descriptor must be a YAML mapping, not {kind}")]
            )
        duplicates = _duplicate_keys(node, source)
        data = loader.construct_document(node)
    except yaml.YAMLError as exc:
        raise _yaml_error(exc, text, source) from None
    finally:
        loader.dispose()
    return data, node, duplicates


# ------------------------------------------------------------------------------ pydantic loc -> YAML line


def _unwrap(tp: Any) -> Any:
    while typing.get_origin(tp) is typing.Annotated:
        tp = typing.get_args(tp)[0]
    return tp


def _tag_of(model: type[BaseModel]) -> str | None:
    """The discriminator value of a union member: its one Literal-typed field (`kind`, `store`)."""
    for field in model.model_fields.values():
        if typing.get_origin(field.annotation) is Literal:
            return str(typing.get_args(field.annotation)[0])
    return None


def _discriminator_of(model: type[BaseModel]) -> str | None:
    for name, field in model.model_fields.items():
        if typing.get_origin(field.annotation) is Literal:
            return field.alias or name
    return None


def _union_members(tp: Any) -> list[type[BaseModel]]:
    tp = _unwrap(tp)
    if typing.get_origin(tp) in (Union, types.UnionType):
        members = [_unwrap(a) for a in typing.get_args(tp) if a is not type(None)]
    else:
        members = [tp]
    return [m for m in members if isinstance(m, type) and issubclass(m, BaseModel)]


def _step(tp: Any, elem: Any) -> tuple[Any, bool]:
    """Follow one loc element through the model's types: (next type or None, was it a union tag?)."""
    tp = _unwrap(tp)
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1:
            return _step(args[0], elem)
        for member in _union_members(tp):
            if _tag_of(member) == elem:
                return member, True
        return None, False
    if origin in (list, tuple, set, frozenset):
        return (typing.get_args(tp) or (None,))[0], False
    if origin is dict:
        return typing.get_args(tp)[1], False
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        for name, field in tp.model_fields.items():
            if elem in (name, field.alias):
                return field.annotation, False
        if _tag_of(tp) == elem:  # a one-member discriminated union still puts its tag in the loc
            return tp, True
    return None, False


@dataclass(slots=True)
class _Where:
    line: int
    path: tuple[Any, ...]  # the loc without union tags: what the author wrote
    node: Node | None  # the YAML node the whole loc reached, None if it stopped early
    model: Any  # the model type at the end of the loc (for key suggestions)
    parent_model: Any  # the model type that holds the last element


def _locate(root: MappingNode, loc: tuple[Any, ...]) -> _Where:
    node: Node | None = root
    line = _line(root)
    path: list[Any] = []
    tp: Any = Descriptor
    parent: Any = None
    for elem in loc:
        parent = tp
        tp, is_tag = _step(tp, elem) if tp is not None else (None, False)
        if isinstance(node, MappingNode):
            match = next((kv for kv in node.value if _key_value(kv[0]) == elem), None)
            if match is not None:  # a real key (also the shorthand `- split: {...}` of a converter)
                line, node = _line(match[0]), match[1]
                path.append(elem)
                continue
            if is_tag:  # `kind: split` selected this union member: nothing to descend into
                continue
        elif isinstance(node, SequenceNode) and isinstance(elem, int) and 0 <= elem < len(node.value):
            node = node.value[elem]
            line = _line(node)
            path.append(elem)
            continue
        if not is_tag:
            path.append(elem)
        node = None  # below what the YAML holds (a missing key, a default): keep the last line
    return _Where(line, tuple(path), node, tp, parent)


def _format_path(path: Iterable[Any]) -> str:
    """('targets', 0, 'table') -> 'targets[0].table'."""
    out = ""
    for elem in path:
        if isinstance(elem, int) and not isinstance(elem, bool):
            out += f"[{elem}]"
        elif isinstance(elem, str) and elem.isidentifier():
            out += f".{elem}" if out else elem
        else:
            out += f"[{json.dumps(elem, default=str)}]"
    return out


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _suggest(word: Any, choices: Iterable[str]) -> str:
    if not isinstance(word, str):
        return ""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _allowed_keys(model: Any) -> list[str]:
    members = _union_members(model) if model is not None else []
    keys: list[str] = []
    for member in members:
        keys += [f.alias or n for n, f in member.model_fields.items() if (f.alias or n) not in keys]
    return keys


def _tags(model: Any) -> list[str]:
    return [t for t in (_tag_of(m) for m in _union_members(model)) if t is not None]


def _message(
    err: ErrorDetails, where: _Where, loc: tuple[Any, ...], root: MappingNode
) -> tuple[str, tuple[Any, ...], int]:
    """A reader-friendly message, and possibly a refined path/line (e.g. onto the `kind:` key)."""
    kind, msg, ctx = err["type"], err["msg"], err.get("ctx") or {}
    path, line = where.path, where.line
    noun = next((_UNION_NOUNS[e] for e in reversed(loc) if isinstance(e, str) and e in _UNION_NOUNS), "kind")
    if kind == "missing":
        return "required key is missing", path, line
    if kind == "extra_forbidden":
        allowed = _allowed_keys(where.parent_model)
        hint = _suggest(loc[-1], allowed)
        return f"unknown key{hint}; allowed keys: {', '.join(allowed)}", path, line
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        disc = str(ctx.get("discriminator", "'kind'")).strip("'")
        tags = _tags(where.model)
        if isinstance(where.node, MappingNode):
            for key_node, _ in where.node.value:
                if _key_value(key_node) == disc:
                    path, line = (*path, disc), _line(key_node)
        if kind == "union_tag_not_found":
            if disc not in path:
                path = (*path, disc)
            return f"missing `{disc}` (one of: {', '.join(tags)})", path, line
        tag = ctx.get("tag")
        return f"unknown {noun} {tag!r}{_suggest(tag, tags)}; expected one of: {', '.join(tags)}", path, line
    if kind == CONSISTENCY_ERROR:  # the model's cross-field checks
        msg = str(ctx.get("message", msg))
        first = ctx.get("first_loc")
        if isinstance(first, tuple):
            msg += f" (first at line {_locate(root, first).line})"
        return msg, path, line
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, ") :]
    elif msg.startswith("Assertion failed, "):
        msg = msg[len("Assertion failed, ") :]
    if kind == "string_pattern_mismatch":
        if ctx.get("pattern") == IDENTIFIER:
            msg += " (expected a safe identifier)"
        return msg, path, line
    value = err.get("input")
    if kind in ("enum", "literal_error") and isinstance(value, str):
        expected = [s.strip("'") for s in str(ctx.get("expected", "")).replace(" or ", ", ").split(", ")]
        alias = TYPE_ALIASES.get(value.strip().lower()) if set(expected) == _TYPE_NAMES else None
        hint = f" (did you mean {alias.value!r}?)" if alias else _suggest(value, expected)
        return f"{msg}, got {value!r}{hint}", path, line
    if kind != "value_error" and (value is None or isinstance(value, str | int | float | bool)):
        msg += f", got {_show(value)}"
    return msg, path, line


def _validation_problems(
    exc: ValidationError | None, root: MappingNode, source: str, duplicates: Sequence[Problem] = ()
) -> list[Problem]:
    problems: list[Problem] = list(duplicates)
    for err in exc.errors(include_url=False) if exc is not None else []:
        loc = tuple(err["loc"])
        where = _locate(root, loc)
        message, path, line = _message(err, where, loc, root)
        problems.append(Problem(source, line, _format_path(path), message))
    unique = list(dict.fromkeys(problems))
    unique.sort(key=lambda p: p.line or 0)
    if len(unique) > MAX_PROBLEMS:
        rest = len(unique) - MAX_PROBLEMS
        unique = [*unique[:MAX_PROBLEMS], Problem(source, None, "", f"... and {rest} more problems")]
    return unique


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
        problems = _validation_problems(exc, root, source, duplicates)
    else:
        if not duplicates:
            return desc
        problems = _validation_problems(None, root, source, duplicates)
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
            where = _locate(_compose(text, str(path))[1], ("name",)).line
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
