"""What every gold target shares: its base class, and the write modes with the merge-key rule.

A target names the task that loads it (`name`, unique in a descriptor) and lists the descriptor fields it
reads (`field_refs`), so the descriptor can check each reference against its fields, located on the
target's own key. Targets that load rows by write mode (PostgreSQL, MongoDB) share `WriteMode`, `MergeKeys`
and `check_merge_mode`: `merge` upserts on the listed keys, so it needs at least one, each listed once.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, ValidationInfo

from airflow_provider_datalake.asset_uris import GoldAsset
from airflow_provider_datalake.descriptors.base import FieldType, Identifier, Strict, repeated

#: (path inside the target, descriptor field name) of one reference to a field.
FieldRef = tuple[tuple[Any, ...], str]
#: (path inside the target, offending value, message) of one cross-field problem.
TargetProblem = tuple[tuple[Any, ...], Any, str]


class GoldTarget(Strict):
    # No docstring: pydantic would publish it as each target's description in the JSON Schema.

    @property
    def name(self) -> str:
        """The name of the task loading this target (`<store>_<table>`), unique in a descriptor."""
        raise NotImplementedError

    def field_refs(self) -> list[FieldRef]:
        """(path inside the target, field name) of every descriptor field this target reads."""
        raise NotImplementedError

    def assets(self) -> list[GoldAsset]:
        """The gold assets this target writes (the load task's outlets), named from the target alone: no
        connection is looked up, so the factory may call it while a DAG file is parsed."""
        raise NotImplementedError

    def type_problems(self, types: dict[str, FieldType], invalid: frozenset[str]) -> list[TargetProblem]:
        """Fields this target reads whose type it cannot store; `invalid`: its keys that failed validation
        (and hold a default or placeholder, so are not checked)."""
        return []


WriteMode = Literal["append", "merge", "replace_object"]


def _unique_keys(value: list[str]) -> list[str]:
    duplicates = repeated(value)
    if duplicates:
        raise ValueError(f"merge keys must be unique; repeated: {', '.join(duplicates)}")
    return value


MergeKeys = Annotated[
    list[Identifier],
    AfterValidator(_unique_keys),
    Field(default_factory=list, description="merge key (mode merge)"),
]


def check_merge_mode(mode: str, info: ValidationInfo, identifies: str) -> str:
    """The merge-key rule: mode `merge` needs `keys` (`identifies`: what they identify, for the message).

    Called from the `mode` field validator, so the error sits on the `mode` line of the YAML; `keys` is
    declared before `mode`, so it is in `info.data` unless it was itself invalid (already reported)."""
    if mode == "merge" and "keys" in info.data and not info.data["keys"]:
        raise ValueError(f"mode merge needs `keys` ({identifies})")
    return mode
