"""What `insert_datalake()` stores, before the upload: a path, bytes or a binary stream, opened for
streaming, with its name (as the catalog can keep it), content type, and size and SHA-256 when they are
known up front."""

from __future__ import annotations

import hashlib
import mimetypes
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from airflow_provider_datalake.ingest.errors import EmptySourceError, SourceError

HASH_CHUNK = 1 << 20
#: A file up to this size is hashed before its upload even without dedupe: reading it twice costs less
#: than the metadata request that would otherwise stamp its SHA-256 on the object after the upload.
HASH_FIRST_BELOW = 8 << 20

Source = str | os.PathLike[str] | bytes | bytearray | memoryview | BinaryIO


#: Data formats the platform's table lacks (Python's mimetypes knows neither on most systems).
_EXTRA_TYPES = {
    ".jsonl": "application/x-ndjson",
    ".ndjson": "application/x-ndjson",
    ".parquet": "application/vnd.apache.parquet",
}


def _guess_type(name: str) -> tuple[str | None, str | None]:
    suffix = Path(name).suffix.lower()
    if suffix in _EXTRA_TYPES:
        return _EXTRA_TYPES[suffix], None
    return mimetypes.guess_type(name)


@dataclass
class Prepared:
    """The source, opened for streaming, and what is known about it before upload."""

    stream: BinaryIO | bytes
    size: int | None
    sha256: str | None
    original_name: str | None
    content_type: str
    close: Callable[[], None]


def _hash_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _storable(name: str | None) -> str | None:
    """The name as the catalog can keep it: a file name that is not UTF-8 (Latin-1 names on lab shares)
    reaches Python with surrogate escapes, which BSON refuses; its odd bytes are kept visible as ``\\xe9``.
    """
    if name is None:
        return None
    try:  # a UTF-8 name comes back as it was; os.fsdecode's escapes become the bytes they stand for
        raw = name.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # another lone surrogate: no bytes behind it, show its code point
        raw = name.encode("utf-8", "backslashreplace")
    return raw.decode("utf-8", "backslashreplace")


def prepare(
    source: Source,
    content_type: str | None,
    original_name: str | None,
    hash_first: bool,
    alongside: int | None = None,
) -> Prepared:
    """The source opened for streaming. A file is hashed first with ``hash_first`` (for dedupe, whose key
    the pending record carries), unless it is ``alongside`` bytes or more (the insert hashes it while it
    uploads), and always when it is small (`HASH_FIRST_BELOW`)."""
    original_name = _storable(original_name)
    if isinstance(source, str | os.PathLike):
        path = Path(source)
        try:
            st = path.stat()
        except FileNotFoundError as exc:
            raise SourceError(f"file not found: {path}") from exc
        except OSError as exc:
            raise SourceError(f"cannot read {path}: {exc.strerror or exc}") from exc
        if not path.is_file():
            raise SourceError(f"not a regular file: {path}")
        if st.st_size == 0:
            raise EmptySourceError(f"empty file: {path} (nothing to store)")
        try:
            first = hash_first and (alongside is None or st.st_size < alongside)
            sha = _hash_file(path) if first or st.st_size <= HASH_FIRST_BELOW else None
            fh = path.open("rb")
        except OSError as exc:
            raise SourceError(f"cannot read {path}: {exc.strerror or exc}") from exc
        name = original_name or _storable(path.name)
        assert name is not None
        guessed = content_type or _guess_type(name)[0] or "application/octet-stream"
        return Prepared(fh, st.st_size, sha, name, guessed, fh.close)
    if isinstance(source, bytes | bytearray | memoryview):
        data = bytes(source)
        if not data:
            raise EmptySourceError("empty bytes (nothing to store)")
        typed = content_type or (original_name and _guess_type(original_name)[0])
        return Prepared(
            data,
            len(data),
            hashlib.sha256(data).hexdigest(),
            original_name,
            typed or "application/octet-stream",
            lambda: None,
        )
    if hasattr(source, "read"):
        name = original_name or _storable(
            Path(str(source.name)).name if isinstance(getattr(source, "name", None), str) else None
        )
        guessed = content_type or (name and _guess_type(name)[0]) or "application/octet-stream"
        return Prepared(source, None, None, name, guessed, lambda: None)
    raise TypeError(f"insert_datalake() takes a path, bytes or a binary stream, not {type(source).__name__}")
