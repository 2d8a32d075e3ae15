"""The PostgreSQL target: rows -> a table, appended, merged on keys, or replacing the object's rows."""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field, ValidationInfo, field_validator

from airflow_provider_datalake.asset_uris import GoldAsset, gold_uri
from airflow_provider_datalake.descriptors.base import Identifier
from airflow_provider_datalake.descriptors.targets.common import (
    FieldRef,
    GoldTarget,
    MergeKeys,
    WriteMode,
    check_merge_mode,
)


class PostgresTarget(GoldTarget):
    store: Literal["postgres"] = "postgres"
    conn_id: str = "postgres_default"
    schema_: Identifier = Field("public", alias="schema")
    table: Identifier
    keys: MergeKeys
    mode: WriteMode = "replace_object"

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @field_validator("mode")
    @classmethod
    def _merge_mode_needs_keys(cls, value: str, info: ValidationInfo) -> str:
        return check_merge_mode(value, info, "the columns that identify a row")

    @property
    def name(self) -> str:
        return f"postgres_{self.table}"

    def field_refs(self) -> list[FieldRef]:
        return [(("keys", i), k) for i, k in enumerate(self.keys)]

    def assets(self) -> list[GoldAsset]:
        return [
            GoldAsset(
                target=self.name,
                uri=gold_uri(self.store, self.conn_id, self.schema_, self.table),
                name=f"postgres:{self.schema_}.{self.table}@{self.conn_id}",
                store=self.store,
                kind="table",
            )
        ]
