"""Format descriptors: the YAML model (`model`), its loader with located errors (`loader`), the published
JSON Schema (`schema`), the versioned store in the catalog and the local cache DAG parsing reads (`store`).

Importing this package pulls in pydantic and PyYAML only (no Airflow, no pymongo): DAG files import it.
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
