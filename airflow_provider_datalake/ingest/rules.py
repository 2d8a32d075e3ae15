"""The rules a raw object's names obey: format, container and metadata keys.

`insert_datalake()` applies them before anything is stored; the CLI and the upload API apply the same ones
up front, to answer with a usage error before any file is tried.
"""

from __future__ import annotations

import re
from typing import Any

DEFAULT_CONTAINER = "datalake-raw"
FORMAT_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
CONTAINER_MAX = 241  # + "_segments" stays within Swift's 256
CONTAINER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def check_format(name: str) -> None:
    """A format name: it becomes part of object names, DAG ids and table names, so a plain identifier."""
    if not FORMAT_NAME.match(name):
        raise ValueError(f"format {name!r}: expected a lower-case identifier (a-z, 0-9, _; 63 at most)")


def check_container(name: str) -> None:
    """Swift's limit is 256 bytes; the ``<name>_segments`` companion of large objects must fit as well."""
    if not name:
        raise ValueError(
            f"container: empty name (an empty container name is not the default one: leave it out for "
            f"{DEFAULT_CONTAINER})"
        )
    if len(name) > CONTAINER_MAX:
        raise ValueError(
            f"container {name[:20]!r}... is {len(name)} characters long, {CONTAINER_MAX} at most (Swift's "
            "256, less the '_segments' suffix of the container that holds large objects' segments)"
        )
    if not CONTAINER_NAME.match(name):
        raise ValueError(f"container {name!r}: letters, digits, '_', '.', '-' only (and not '_.-' first)")


def check_keys(value: Any, where: str = "other_data") -> None:
    """Keys the catalog can store and query: a '.' or a leading '$' mean paths and operators to MongoDB."""
    if isinstance(value, dict):
        for key, inner in value.items():
            if not isinstance(key, str) or not key or key.startswith("$") or "." in key:
                raise ValueError(
                    f"{where} key {key!r}: not empty, no '.' in a key and no '$' first (MongoDB reads them "
                    "as paths and operators)"
                )
            check_keys(inner, f"{where}.{key}")
    elif isinstance(value, list | tuple):
        for item in value:
            check_keys(item, where)
