"""The building blocks every part of a descriptor shares: strict models, safe names, field types.

Every name that ends up as a database identifier (table, column, tag, label) is one of the annotated
string types below, checked against a strict pattern, so no SQL or Cypher can ride in on a name; the drivers
still quote them (psycopg `sql.Identifier`, parameterised Cypher).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

IDENTIFIER = r"^[a-z_][a-z0-9_]{0,62}$"
_IDENT_RE = re.compile(IDENTIFIER)

Identifier = Annotated[
    str,
    Field(
        pattern=IDENTIFIER,
        description="lower-case letters, digits and _, starting with a letter or _; 63 max",
    ),
]

#: Neo4j labels, relationship types and property names: like Identifier, but case matters there
#: (`Building`, `HAS_ROOM`); still no character that would need quoting, and backticked anyway.
GRAPH_NAME = r"^[A-Za-z_][A-Za-z0-9_]{0,62}$"
GraphName = Annotated[
    str,
    Field(pattern=GRAPH_NAME, description="letters, digits and _, starting with a letter or _; 63 max"),
]

#: Field names every gold loader refuses: the lineage columns/properties it adds to each row.
LINEAGE_NAMES = ("_raw_object_id", "_source_row", "_loaded_at")


def is_identifier(value: str) -> bool:
    # fullmatch: with `match`, `$` also matches before a trailing newline, so "abc\n" would pass.
    return isinstance(value, str) and bool(_IDENT_RE.fullmatch(value))


class Strict(BaseModel):
    """Unknown keys are errors: a typo in a descriptor must not be silently ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class FieldType(StrEnum):
    STRING = "string"
    INT = "int"
    FLOAT = "float"
    BOOL = "bool"
    TIMESTAMP = "timestamp"
    DATE = "date"
    JSON = "json"


#: Type names people write from other systems -> the descriptor type they mean (for "did you mean").
TYPE_ALIASES: dict[str, FieldType] = {
    **dict.fromkeys(("datetime", "time", "ts", "timestamptz", "instant"), FieldType.TIMESTAMP),
    **dict.fromkeys(("integer", "long", "bigint", "int64", "smallint"), FieldType.INT),
    **dict.fromkeys(("double", "number", "decimal", "numeric", "real", "float64"), FieldType.FLOAT),
    **dict.fromkeys(("str", "text", "varchar", "char"), FieldType.STRING),
    **dict.fromkeys(("boolean",), FieldType.BOOL),
    **dict.fromkeys(("object", "dict", "array", "list", "map", "jsonb"), FieldType.JSON),
}

#: The spellings of FieldType, for checks that read the YAML before validation.
TYPE_NAMES = frozenset(t.value for t in FieldType)


def repeated(names: list[str]) -> list[str]:
    """The names listed more than once, sorted (for one error naming them all)."""
    return sorted({n for n in names if names.count(n) > 1})


def check_separators(decimal: str | None, thousands: str | None) -> str | None:
    """A number's thousands separator must differ from its decimal one ('1.234.5' reads no way)."""
    if thousands is not None and thousands == decimal:
        raise ValueError(f"thousands separator {thousands!r} is also the decimal separator")
    return thousands


def did_you_mean(word: Any, choices: Iterable[str]) -> str:
    """' (did you mean 'x'?)' for the choice closest to a mistyped word, else ''."""
    if not isinstance(word, str):
        return ""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""
