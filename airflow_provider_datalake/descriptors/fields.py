"""A descriptor's fields: what each typed value is called, where it comes from in the raw record, and
the converters or sandboxed expression that turn the raw text into it."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, ValidationInfo, field_validator

from airflow_provider_datalake.descriptors.base import FieldType, Identifier, Strict, check_separators
from airflow_provider_datalake.descriptors.templates import sandbox_problem

# In YAML a converter is a one-key mapping, e.g. `- split: {sep: "/", index: 0}` or `- percent: {}`,
# or a bare name for one without parameters: `- lower`.


class LocaleNumber(Strict):
    """'4 090,8' (fr) or '4,090.8' (en) -> 4090.8."""

    kind: Literal["locale_number"] = "locale_number"
    decimal: str = Field(".", min_length=1, max_length=1)
    thousands: str | None = Field(None, max_length=1)

    @field_validator("thousands")
    @classmethod
    def _distinct_separators(cls, value: str | None, info: ValidationInfo) -> str | None:
        return check_separators(info.data.get("decimal"), value)


class SuffixNumber(Strict):
    """'14.13K' -> 14130, '2.49M' -> 2490000, '1.2B' -> 1.2e9 (K, M, B/G, T; case-insensitive)."""

    kind: Literal["suffix_number"] = "suffix_number"
    decimal: str = Field(".", min_length=1, max_length=1)


class Percent(Strict):
    """'2.19%' -> 2.19, or 0.0219 with `fraction: true`."""

    kind: Literal["percent"] = "percent"
    fraction: bool = False
    decimal: str = Field(".", min_length=1, max_length=1)


class TimestampFormat(Strict):
    """Parse with strptime `format` (e.g. '%b %d, %Y' for 'Mar 16, 2019'); naive values get `timezone`."""

    kind: Literal["timestamp_format"] = "timestamp_format"
    format: str
    timezone: str = "UTC"

    @field_validator("format")
    @classmethod
    def _has_directive(cls, value: str) -> str:
        if "%" not in value:
            raise ValueError("a strptime format needs at least one % directive, e.g. '%b %d, %Y'")
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (an IANA name such as 'Europe/Paris')") from None
        return value


class RegexExtract(Strict):
    """Keep one group of the first match of `pattern` (no match -> the row is quarantined)."""

    kind: Literal["regex"] = "regex"
    pattern: str
    group: int | str = 1

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"invalid regular expression: {exc}") from exc
        return value

    @field_validator("group")
    @classmethod
    def _group_exists(cls, value: int | str, info: ValidationInfo) -> int | str:
        pattern = info.data.get("pattern")
        if pattern is None:  # the pattern itself is invalid: already reported
            return value
        compiled = re.compile(pattern)
        if isinstance(value, int) and not 0 <= value <= compiled.groups:
            raise ValueError(f"group {value} does not exist: the pattern has {compiled.groups} group(s)")
        if isinstance(value, str) and value not in compiled.groupindex:
            raise ValueError(f"the pattern has no named group {value!r}")
        return value


class Split(Strict):
    """'u4/302/humidity' with sep '/' and index 1 -> '302' (a topic path's parts)."""

    kind: Literal["split"] = "split"
    sep: str = Field(min_length=1)
    index: int


class Strip(Strict):
    kind: Literal["strip"] = "strip"
    chars: str | None = None


class Lower(Strict):
    kind: Literal["lower"] = "lower"


class Replace(Strict):
    kind: Literal["replace"] = "replace"
    old: str
    new: str = ""


Converter = Annotated[
    LocaleNumber | SuffixNumber | Percent | TimestampFormat | RegexExtract | Split | Strip | Lower | Replace,
    Field(discriminator="kind"),
]


def _converter_shorthand(value: Any) -> Any:
    """`{split: {sep: "/", index: 0}}` -> `{kind: split, sep: "/", index: 0}`; `lower` -> `{kind: lower}`."""
    if isinstance(value, str):
        return {"kind": value}
    if isinstance(value, dict) and "kind" not in value and len(value) == 1:
        ((kind, params),) = value.items()
        if params is not None and not isinstance(params, dict):
            # A TypeError here would escape pydantic; a ValueError becomes a located validation error.
            raise ValueError(f"converter {kind!r} takes a mapping of parameters, got {params!r}")
        return {"kind": kind, **(params or {})}
    return value


class FieldSpec(Strict):
    name: Identifier
    type: FieldType = FieldType.STRING
    source: str | None = Field(
        None, description="column name (CSV) or dotted path (JSON); default: the field's name"
    )
    required: bool = False
    default: Any = None
    converters: list[Converter] = Field(default_factory=list)
    expression: str | None = Field(
        None,
        description="sandboxed Jinja2 expression over `row` (the raw record) and `fields` (converted so far)",
    )
    description: str | None = None

    @field_validator("converters", mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        return [_converter_shorthand(v) for v in value] if isinstance(value, list) else value

    @field_validator("expression")
    @classmethod
    def _expression_compiles(cls, value: str | None) -> str | None:
        if value is not None:
            bare = value.strip()
            if bare.startswith("{{") and bare.endswith("}}"):
                # The parser's error for this ("expected token ':', got '}'") helps nobody.
                raise ValueError(f"write the bare expression, without {{{{ }}}}: {bare[2:-2].strip()!r}")
            problem = sandbox_problem(value, expression=True)
            if problem:
                raise ValueError(problem)
        return value

    @property
    def source_key(self) -> str:
        return self.source or self.name
