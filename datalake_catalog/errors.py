"""The catalog's exceptions, by what went wrong rather than by which library said it (pymongo only).

`catalog_failure` gives the typed exception for a pymongo one, `catalog_errors()` raises it in place; each
is one line that names the server, never a password.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from pymongo.errors import ConnectionFailure, OperationFailure


class CatalogError(RuntimeError):
    """The catalog refused or could not do what was asked; the message names the record."""


class InvalidTransition(CatalogError):
    """A state change the record's state machine does not allow."""


class DuplicateContent(CatalogError):
    """Another record already holds this content for this format (the dedupe key)."""

    def __init__(self, dedupe_key: str, existing: dict[str, Any] | None) -> None:
        super().__init__(f"content {dedupe_key} is already in the catalog")
        self.dedupe_key = dedupe_key
        self.existing = existing


class CatalogUnreachable(ConnectionFailure):
    """No answer from the catalog's server within the client's timeouts; the text is one line."""


class CatalogAuthRefused(OperationFailure):
    """The catalog's server refused the credentials (MongoDB error 13 or 18); the text is one line."""


_AUTH_CODES = (13, 18)  # Unauthorized, AuthenticationFailed
# pymongo appends its timeouts and the whole topology to the reason: the one-line form drops them
_MONGO_NOISE = re.compile(r" \(configured timeouts: [^)]*\)|, Timeout: .*|, Topology Description: .*")
_MONGO_TIMEOUT = re.compile(r", Timeout: ([\d.]+)s")
_ADDRESS = re.compile(r"\S+:\d+")


def catalog_failure(exc: BaseException) -> CatalogUnreachable | CatalogAuthRefused | None:
    """The typed catalog exception for a pymongo one (itself when already typed); None for any other."""
    if isinstance(exc, CatalogUnreachable | CatalogAuthRefused):
        return exc
    if isinstance(exc, ConnectionFailure):
        text = str(exc)
        clean = _MONGO_NOISE.sub("", text)
        timeout = _MONGO_TIMEOUT.search(text)
        after = f" (gave up after {timeout[1]} s)" if timeout else ""
        where, sep, why = clean.partition(": ")
        if sep and _ADDRESS.fullmatch(where):
            return CatalogUnreachable(f"catalog (MongoDB) unreachable at {where}: {why}{after}")
        return CatalogUnreachable(f"catalog (MongoDB) unreachable: {clean[:200]}{after}")
    if isinstance(exc, OperationFailure) and exc.code in _AUTH_CODES:
        why = str(exc).split(", full error:")[0][:200]
        return CatalogAuthRefused(f"catalog (MongoDB) refused the credentials: {why}", exc.code)
    return None


@contextmanager
def catalog_errors() -> Iterator[None]:
    """pymongo's connection failures and credential refusals raised inside become the typed ones."""
    try:
        yield
    except (ConnectionFailure, OperationFailure) as err:
        typed = catalog_failure(err)
        if typed is None or typed is err:
            raise
        raise typed from err
