"""Every exception the hooks raise, by what went wrong rather than by which library said it.

Callers sort failures by class: a server that cannot be reached (`SwiftUnreachable`, `CatalogUnreachable`),
credentials refused (`SwiftAuthRefused`, `CatalogAuthRefused`), a connection id that is not defined
(`ConnectionNotDefined`). The catalog's subclass what callers of pymongo catch (`ConnectionFailure` /
`OperationFailure`); each text is one line that names the server and the user, never a password.

This module imports no Airflow: the Swift client and the catalog raise the same classes whether their
connection came from the environment or from Airflow. Where Airflow was asked for a connection and knows
none, the `ConnectionNotDefined` raised is also Airflow's `AirflowNotFoundException`
(`airflow_errors.connection_defined`), as callers of Airflow hooks expect.

pymongo raises from any collection call, wherever it is made (the catalog's methods, or callers that
use ``Catalog.db`` directly), so its exceptions are typed where they are sorted: `catalog_failure`
gives the typed exception for a pymongo one, `catalog_errors()` raises it in place.
"""

from __future__ import annotations

import socket
from typing import Any

# The catalog's exceptions live with the catalog, in datalake_catalog (the Swift middleware raises them too).
from datalake_catalog.errors import (
    CatalogAuthRefused,
    CatalogError,
    CatalogUnreachable,
    DuplicateContent,
    InvalidTransition,
    catalog_errors,
    catalog_failure,
)

__all__ = [
    "CatalogAuthRefused",
    "CatalogError",
    "CatalogUnreachable",
    "DuplicateContent",
    "InvalidTransition",
    "catalog_errors",
    "catalog_failure",
]


class ConnectionNotDefined(Exception):
    """No connection has this id (``conn_id``): none in the environment, and none Airflow knows.

    Not a LookupError: callers read those as "no such format / record", a missing connection is the
    world failing the call (`OUTSIDE`)."""

    def __init__(self, conn_id: str) -> None:
        super().__init__(f"The conn_id `{conn_id}` isn't defined")
        self.conn_id = conn_id

    def __reduce__(self) -> tuple[Any, ...]:  # keeps the id when the exception crosses a process
        return type(self), (self.conn_id,)


# -- Swift --------------------------------------------------------------------------------------------------


class SwiftError(Exception):
    """Any Swift failure; the message names the container/object, so one log line is enough to act."""


class SwiftAuthRefused(SwiftError):
    """Credentials refused (401/403) or auth endpoint failure; names the user and auth URL, never the key."""


class SwiftUnreachable(SwiftError):
    """No answer from Swift (connection refused, name unknown, timeout, a proxy in the way).

    ``brief`` is the one-line form: where and what was tried, and the operating system's reason when one
    is known (``[Errno 111] Connection refused``), without the HTTP library's wrapping.
    """

    def __init__(self, message: str, brief: str | None = None) -> None:
        super().__init__(message)
        self.brief = brief or message

    def __reduce__(self) -> tuple[Any, ...]:
        return type(self), (str(self), self.brief)


class SwiftNotFound(SwiftError):
    """The container or object does not exist (``obj`` is None for container operations)."""

    def __init__(self, message: str, container: str, obj: str | None = None) -> None:
        super().__init__(message)
        self.container, self.obj = container, obj

    def __reduce__(self) -> tuple[Any, ...]:  # keeps the names when the exception crosses a process
        return type(self), (str(self), self.container, self.obj)


class UploadAborted(SwiftError):
    """The caller's ``before_body`` failed, so the upload stopped before any of the object's bytes were
    sent and nothing was stored; the caller's own exception is the ``__cause__``."""


class SwiftIntegrityError(SwiftError):
    """What Swift stored differs from what was sent; the upload is already deleted when this is raised."""


def os_reason(err: BaseException) -> str | None:
    """The operating system's reason behind a network error, as Python words it (``[Errno 111] Connection
    refused``, ``timed out``), found by following the causes and the wrapped errors of requests/urllib3."""
    seen: set[int] = set()
    todo: list[Any] = [err]
    while todo:
        one = todo.pop(0)
        if not isinstance(one, BaseException) or id(one) in seen:
            continue
        seen.add(id(one))
        if isinstance(one, TimeoutError | socket.timeout) and not one.errno:
            return "timed out"
        if isinstance(one, OSError) and one.errno is not None and one.strerror:
            return f"[Errno {one.errno}] {one.strerror}"
        todo += [one.__cause__, one.__context__, getattr(one, "reason", None), *one.args]
    return None


# -- sorting -------------------------------------------------------------------------------------------------

#: The world failing a call rather than the call being wrong: retrying the next item fails the same way.
OUTSIDE = (ConnectionNotDefined, SwiftUnreachable, SwiftAuthRefused, CatalogUnreachable, CatalogAuthRefused)


def outside_failure(exc: BaseException) -> BaseException | None:
    """The typed exception in ``exc``'s chain (itself, what it was raised from or while handling, as a
    traceback lists them) that says the world failed the call: one of `OUTSIDE`, pymongo's typed by
    `catalog_failure`. None when there is none: the call itself failed (a bug, a bad input)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        typed = catalog_failure(current) or current
        if isinstance(typed, OUTSIDE):
            return typed
        current = current.__cause__ or (None if current.__suppress_context__ else current.__context__)
    return None
