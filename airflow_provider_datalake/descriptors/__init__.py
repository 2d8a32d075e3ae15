"""Format descriptors: one YAML file per data format, how to recognise, parse, type and load it.

- `model`: the `Descriptor` and its cross-field checks; it re-exports every part of the model, which live in
  `base` (strict models, safe names, field types), `fields` (fields, converters), `parsers`, `targets/`
  (one module per gold store) and `templates` (checks of the Jinja a descriptor holds, run in `sandbox`);
- `loader`: YAML in, a `Descriptor` or every problem out, located by `problems` (file, line, field path);
- `schema`: the published JSON Schema, generated from the model;
- `store`: the versioned store in the catalog and the local cache DAG parsing reads; `active` the latest
  active versions as stored, read without the model;
- `matching`: which format a raw object inserted without one belongs to.

Importing this package imports nothing: the names below load their module on first use, so a module that
needs only `active` or `matching` (an insert) does not pay for pydantic. The model and loader pull in
pydantic and PyYAML only (no Airflow, no pymongo, no Jinja): DAG files import them.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow_provider_datalake.descriptors.loader import (
        DescriptorError,
        Problem,
        load_descriptor,
        load_many,
        parse_descriptor,
    )
    from airflow_provider_datalake.descriptors.model import Descriptor

_WHERE = {
    "Descriptor": "model",
    "DescriptorError": "loader",
    "Problem": "loader",
    "load_descriptor": "loader",
    "load_many": "loader",
    "parse_descriptor": "loader",
}

__all__ = ["Descriptor", "DescriptorError", "Problem", "load_descriptor", "load_many", "parse_descriptor"]


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f"{__name__}.{_WHERE[name]}"), name)
    globals()[name] = value
    return value
