"""The latest stored version of each active format, read without the descriptor model.

The store lists formats through this, and so does an insert that names no format: matching it against the
formats' `match` rules needs their YAML, not the pydantic model, so such an insert does not pay for
importing the model (`ingest.insert._recognise`). Standard library and pymongo's types only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pymongo.collection import Collection

FORMATS = "formats"
ACTIVE = "active"


def version_id(name: str, version: int) -> str:
    """A stored version's ``_id``, and how messages name it: `lab_csv_fr@v3`."""
    return f"{name}@v{version}"


def latest_active(collection: Collection[dict[str, Any]]) -> list[dict[str, Any]]:
    """The stored document of the latest version of each active format, by name: two queries, the second
    by ``_id`` (the only filter every MongoDB-wire server answers from an index)."""
    newest: dict[str, int] = {}
    for doc in collection.find({"status": ACTIVE}, {"name": 1, "version": 1}):
        newest[doc["name"]] = max(newest.get(doc["name"], 0), int(doc["version"]))
    if not newest:
        return []
    ids = [version_id(name, version) for name, version in newest.items()]
    return sorted(collection.find({"_id": {"$in": ids}}), key=lambda d: str(d["name"]))
