"""Format descriptors: one YAML file per data format, how to recognise, parse, type and load it.

- `model`: the `Descriptor` and its cross-field checks; it re-exports every part of the model, which live in
  `base` (strict models, safe names, field types), `fields` (fields, converters), `parsers`, `targets/`
  (one module per gold store) and `templates` (checks of the Jinja a descriptor holds, run in `sandbox`);
- `loader`: YAML in, a `Descriptor` or every problem out, located by `problems` (file, line, field path);
- `schema`: the published JSON Schema, generated from the model;
- `store`: the versioned store in the catalog and the local cache DAG parsing reads;
- `matching`: which format a raw object inserted without one belongs to.

Importing this package pulls in pydantic and PyYAML only (no Airflow, no pymongo, no Jinja): DAG files
import it.
"""

from airflow_provider_datalake.descriptors.loader import (
    DescriptorError,
    Problem,
    load_descriptor,
    load_many,
    parse_descriptor,
)
from airflow_provider_datalake.descriptors.model import Descriptor

__all__ = ["Descriptor", "DescriptorError", "Problem", "load_descriptor", "load_many", "parse_descriptor"]
