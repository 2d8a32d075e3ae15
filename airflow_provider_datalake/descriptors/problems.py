"""What is wrong with a descriptor, and where: each pydantic error traced back to its line in the YAML.

PyYAML's constructed data forgets where each value came from, so the loader keeps the composed node tree
(every node knows its start line). Each pydantic error's ``loc`` tuple is walked down that tree, and down the
model's types alongside it (to skip the discriminator tags pydantic puts in a ``loc``), to the line of the
offending key or list item; the message is rewritten for a descriptor's author (allowed keys, "did you
mean", the expected kinds of a parser, converter or target).
"""

from __future__ import annotations

import json
import types
import typing
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Union

import yaml
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from airflow_provider_datalake.descriptors.base import IDENTIFIER, TYPE_ALIASES, TYPE_NAMES, did_you_mean
from airflow_provider_datalake.descriptors.model import CONSISTENCY_ERROR, Descriptor

#: One broken descriptor can produce thousands of errors (e.g. a huge list); the first ones are enough.
MAX_PROBLEMS = 50

_STR_TAG = "tag:yaml.org,2002:str"
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


def key_value(node: Node) -> Any:
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


def line_of(node: Node) -> int:
    """The 1-based line a YAML node starts on."""
    return node.start_mark.line + 1


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


def locate(root: MappingNode, loc: tuple[Any, ...]) -> _Where:
    node: Node | None = root
    line = line_of(root)
    path: list[Any] = []
    tp: Any = Descriptor
    parent: Any = None
    for elem in loc:
        parent = tp
        tp, is_tag = _step(tp, elem) if tp is not None else (None, False)
        if isinstance(node, MappingNode):
            match = next((kv for kv in node.value if key_value(kv[0]) == elem), None)
            if match is not None:  # a real key (also the shorthand `- split: {...}` of a converter)
                line, node = line_of(match[0]), match[1]
                path.append(elem)
                continue
            if is_tag:  # `kind: split` selected this union member: nothing to descend into
                continue
        elif isinstance(node, SequenceNode) and isinstance(elem, int) and 0 <= elem < len(node.value):
            node = node.value[elem]
            line = line_of(node)
            path.append(elem)
            continue
        if not is_tag:
            path.append(elem)
        node = None  # below what the YAML holds (a missing key, a default): keep the last line
    return _Where(line, tuple(path), node, tp, parent)


def format_path(path: Iterable[Any]) -> str:
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
        hint = did_you_mean(loc[-1], allowed)
        return f"unknown key{hint}; allowed keys: {', '.join(allowed)}", path, line
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        disc = str(ctx.get("discriminator", "'kind'")).strip("'")
        tags = _tags(where.model)
        if isinstance(where.node, MappingNode):
            for key_node, _ in where.node.value:
                if key_value(key_node) == disc:
                    path, line = (*path, disc), line_of(key_node)
        if kind == "union_tag_not_found":
            if disc not in path:
                path = (*path, disc)
            return f"missing `{disc}` (one of: {', '.join(tags)})", path, line
        tag = ctx.get("tag")
        return (
            f"unknown {noun} {tag!r}{did_you_mean(tag, tags)}; expected one of: {', '.join(tags)}",
            path,
            line,
        )
    if kind == CONSISTENCY_ERROR:  # the model's cross-field checks
        msg = str(ctx.get("message", msg))
        first = ctx.get("first_loc")
        if isinstance(first, tuple):
            msg += f" (first at line {locate(root, first).line})"
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
        alias = TYPE_ALIASES.get(value.strip().lower()) if set(expected) == TYPE_NAMES else None
        hint = f" (did you mean {alias.value!r}?)" if alias else did_you_mean(value, expected)
        return f"{msg}, got {value!r}{hint}", path, line
    if kind != "value_error" and (value is None or isinstance(value, str | int | float | bool)):
        msg += f", got {_show(value)}"
    return msg, path, line


def validation_problems(
    exc: ValidationError | None, root: MappingNode, source: str, duplicates: Sequence[Problem] = ()
) -> list[Problem]:
    problems: list[Problem] = list(duplicates)
    for err in exc.errors(include_url=False) if exc is not None else []:
        loc = tuple(err["loc"])
        where = locate(root, loc)
        message, path, line = _message(err, where, loc, root)
        problems.append(Problem(source, line, format_path(path), message))
    unique = list(dict.fromkeys(problems))
    unique.sort(key=lambda p: p.line or 0)
    if len(unique) > MAX_PROBLEMS:
        rest = len(unique) - MAX_PROBLEMS
        unique = [*unique[:MAX_PROBLEMS], Problem(source, None, "", f"... and {rest} more problems")]
    return unique
