"""How a raw object's bytes become records: one parser model per input shape, chosen by `kind`."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, ValidationInfo, field_validator

from airflow_provider_datalake.descriptors.base import Strict, check_separators


class CsvParser(Strict):
    kind: Literal["csv"] = "csv"
    delimiter: str = Field(",", min_length=1, max_length=1)
    quotechar: str = Field('"', min_length=1, max_length=1)
    encoding: str = "utf-8"
    header: bool = True
    skip_rows: int = Field(0, ge=0, description="lines to skip before the header (a preamble)")
    decimal: str = Field(
        ".", min_length=1, max_length=1, description="default decimal separator for int/float fields"
    )
    thousands: str | None = Field(None, max_length=1)
    null_values: list[str] = Field(default_factory=lambda: ["", "NA", "N/A", "null", "NULL", "-"])

    @field_validator("quotechar")
    @classmethod
    def _quote_is_not_delimiter(cls, value: str, info: ValidationInfo) -> str:
        if value == info.data.get("delimiter"):
            raise ValueError("quotechar and delimiter must differ")
        return value

    @field_validator("thousands")
    @classmethod
    def _distinct_separators(cls, value: str | None, info: ValidationInfo) -> str | None:
        return check_separators(info.data.get("decimal"), value)


class JsonParser(Strict):
    """A JSON document; `records_path` ('data.items') leads to the array of records (default: the root)."""

    kind: Literal["json"] = "json"
    encoding: str = "utf-8"
    records_path: str | None = None
    null_values: list[str] = Field(default_factory=list, description="string values read as null ('n/a')")


class JsonLinesParser(Strict):
    kind: Literal["jsonl"] = "jsonl"
    encoding: str = "utf-8"
    null_values: list[str] = Field(default_factory=list, description="string values read as null ('n/a')")


class MqttParser(Strict):
    """neOCampus broker dump: a JSON array (or JSON lines) of messages; an array `value` is zipped with the
    `value_units` array into one row per unit, each row carrying `value`, `unit` and `unit_index`; scalar
    values give one row with `unit` = `value_units`."""

    kind: Literal["neocampus_mqtt"] = "neocampus_mqtt"
    encoding: str = "utf-8"
    records_path: str | None = None
    lines: bool = False


Parser = Annotated[CsvParser | JsonParser | JsonLinesParser | MqttParser, Field(discriminator="kind")]
