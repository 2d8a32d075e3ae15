"""The MongoDB target: rows -> documents of a collection in the gold database (never the catalog's)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, ValidationInfo, field_validator

from airflow_provider_datalake.asset_uris import GoldAsset, gold_uri
from airflow_provider_datalake.descriptors.base import Identifier, Strict, repeated
from airflow_provider_datalake.descriptors.targets.common import (
    FieldRef,
    GoldTarget,
    MergeKeys,
    WriteMode,
    check_merge_mode,
)


class MongoIndex(Strict):
    """An index of the gold collection (ascending on each field, in order)."""

    fields: list[Identifier] = Field(min_length=1)
    unique: bool = False
    name: Identifier | None = Field(None, description="default: datalake_<fields joined by _>")

    @property
    def index_name(self) -> str:
        return self.name or f"datalake_{'_'.join(self.fields)}"[:63]


class MongoTarget(GoldTarget):
    """Rows -> documents of a MongoDB collection in the gold database (never the catalog's)."""

    store: Literal["mongodb"] = "mongodb"
    conn_id: str = "mongo_gold"
    database: Identifier = "datalake_gold"
    collection: Identifier
    keys: MergeKeys
    mode: WriteMode = "replace_object"
    indexes: list[MongoIndex] = Field(default_factory=list)
    batch_size: int = Field(5_000, ge=1, le=100_000, description="documents per bulk write")

    @field_validator("mode")
    @classmethod
    def _merge_mode_needs_keys(cls, value: str, info: ValidationInfo) -> str:
        return check_merge_mode(value, info, "the fields that identify a document")

    @field_validator("indexes")
    @classmethod
    def _index_names_unique(cls, value: list[MongoIndex]) -> list[MongoIndex]:
        duplicates = repeated([i.index_name for i in value])
        if duplicates:
            raise ValueError(f"index names must be unique; repeated: {', '.join(duplicates)}")
        return value

    @property
    def name(self) -> str:
        return f"mongodb_{self.collection}"

    def field_refs(self) -> list[FieldRef]:
        refs: list[FieldRef] = [(("keys", i), k) for i, k in enumerate(self.keys)]
        for i, index in enumerate(self.indexes):
            refs += [(("indexes", i, "fields", j), f) for j, f in enumerate(index.fields)]
        return refs

    def assets(self) -> list[GoldAsset]:
        return [
            GoldAsset(
                target=self.name,
                uri=gold_uri(self.store, self.conn_id, self.database, self.collection),
                name=f"mongodb:{self.database}.{self.collection}@{self.conn_id}",
                store=self.store,
                kind="collection",
            )
        ]
