"""Airflow connections read from ``AIRFLOW_CONN_<CONN_ID>`` without Airflow, parsed as Airflow parses them.

Importing Airflow takes seconds, longer than a small insert; a command whose connections are in the
environment needs none of it. Airflow's environment-variables secrets backend reads two forms, and so does
this module (standard library only):

- JSON: an object with ``conn_type``, ``host``, ``login``, ``password``, ``schema``, ``port`` and ``extra``
  (an object, or a string holding one), taken as they are; ``port`` goes through ``int()``, and an empty
  ``conn_type``, ``port`` or ``extra`` counts as absent;
- a URI, ``conn-type://login:password@host:port/schema?key=value``: the scheme is the type (``-`` read as
  ``_``); login, password, host and schema are percent-decoded (the host lower-cased, as URLs have it); the
  query is the extra: the JSON object in its ``__extra__`` parameter, else the parameters themselves, as
  strings. A host may carry its own scheme (``http://https://host``).

Both follow the Task SDK's ``Connection.from_json`` and ``Connection.from_uri``, which give the hooks their
connections. A value outside what they accept, or that Airflow would accept only to hand a hook nonsense (a
field that is not a string, an extra that is not an object, an unknown key), raises `ConnectionParseError`:
the caller then leaves that connection to Airflow, which decides about it as it always does.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import SplitResult, parse_qsl, unquote, urlsplit

ENV_PREFIX = "AIRFLOW_CONN_"
EXTRA_KEY = "__extra__"
#: What Airflow's Connection takes from the JSON form (``uri`` aside: a URI inside JSON is left to Airflow).
_JSON_FIELDS = frozenset({"conn_type", "description", "host", "schema", "login", "password", "port", "extra"})


class ConnectionFields(Protocol):
    """What the hooks read of a connection: Airflow's ``Connection`` and `EnvConnection` alike."""

    @property
    def conn_id(self) -> str: ...
    @property
    def conn_type(self) -> str | None: ...
    @property
    def host(self) -> str | None: ...
    @property
    def login(self) -> str | None: ...
    @property
    def password(self) -> str | None: ...
    @property
    def schema(self) -> str | None: ...
    @property
    def port(self) -> int | None: ...
    @property
    def extra_dejson(self) -> dict[str, Any]: ...


class ConnectionParseError(ValueError):
    """The variable holds no connection this module reads; the text names the variable, never its value."""


@dataclass(frozen=True)
class EnvConnection:
    """One connection's fields, as Airflow would hand them to a hook. Secrets stay out of its repr."""

    conn_id: str
    conn_type: str | None = None
    host: str | None = None
    login: str | None = None
    password: str | None = field(default=None, repr=False)
    schema: str | None = None
    port: int | None = None
    #: a JSON object, as text (Airflow's form); `extra_dejson` reads it
    extra: str | None = field(default=None, repr=False)
    description: str | None = None

    @property
    def extra_dejson(self) -> dict[str, Any]:
        """The extra as a new dict each time (callers pop from it)."""
        return dict(json.loads(self.extra)) if self.extra else {}


def env_var(conn_id: str) -> str:
    """The variable Airflow reads ``conn_id`` from."""
    return ENV_PREFIX + conn_id.upper()


def from_environment(conn_id: str, environ: Mapping[str, str] | None = None) -> EnvConnection | None:
    """The connection ``AIRFLOW_CONN_<CONN_ID>`` holds; None when it is unset or empty (Airflow then looks
    elsewhere); `ConnectionParseError` when it holds something else than a connection read here."""
    value = (os.environ if environ is None else environ).get(env_var(conn_id))
    if not value:
        return None
    try:
        return parse_connection(conn_id, value)
    except ConnectionParseError as exc:
        raise ConnectionParseError(f"{env_var(conn_id)}: {exc}") from None


def parse_connection(conn_id: str, value: str) -> EnvConnection:
    """Either form, told apart as Airflow does: JSON when it starts with ``{`` (surrounding blanks aside)."""
    value = value.strip()
    if value.startswith("{"):
        return parse_json(conn_id, value)
    return parse_uri(conn_id, value)


def _text(key: str, value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise ConnectionParseError(f"{key} is a {type(value).__name__}, not a string")


def _extra_text(value: str, where: str) -> str:
    """``value`` if it is a JSON object (the only extra a hook can read), else the reason why not."""
    try:
        decoded = json.loads(value)
    except ValueError as exc:
        raise ConnectionParseError(f"{where} is not JSON ({exc})") from None
    if not isinstance(decoded, dict):
        raise ConnectionParseError(f"{where} is not a JSON object")
    return value


def parse_json(conn_id: str, text: str) -> EnvConnection:
    """The JSON form: ``{"conn_type": "swift", "host": "h", "port": 8080, "extra": {...}}``."""
    try:
        data = json.loads(text)
    except ValueError as exc:  # the message says where, never what
        raise ConnectionParseError(f"not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise ConnectionParseError("not a JSON object")
    unknown = sorted(set(data) - _JSON_FIELDS)
    if unknown:
        raise ConnectionParseError(f"unknown key(s) {', '.join(map(repr, unknown))}")
    conn_type = _text("conn_type", data.get("conn_type")) or None
    port: int | None = None
    if raw_port := data.get("port"):
        if isinstance(raw_port, bool) or not isinstance(raw_port, int | str):
            raise ConnectionParseError(f"port is a {type(raw_port).__name__}, not an integer")
        try:
            port = int(raw_port)
        except ValueError:
            raise ConnectionParseError("port is not an integer") from None
    extra: str | None = None
    if raw_extra := data.get("extra"):
        if isinstance(raw_extra, dict):
            extra = json.dumps(raw_extra)
        elif isinstance(raw_extra, str):
            extra = _extra_text(raw_extra, "extra")
        else:
            raise ConnectionParseError(f"extra is a {type(raw_extra).__name__}, not an object")
    return EnvConnection(
        conn_id=conn_id,
        conn_type=_normalize_type(conn_type) if conn_type else None,
        host=_text("host", data.get("host")),
        login=_text("login", data.get("login")),
        password=_text("password", data.get("password")),
        schema=_text("schema", data.get("schema")),
        port=port,
        extra=extra,
        description=_text("description", data.get("description")),
    )


def _normalize_type(conn_type: str) -> str:
    """Airflow's spelling of a type: ``postgresql`` is ``postgres``, and ``-`` (valid in a URI scheme, not
    in a hook's type) is ``_``."""
    return "postgres" if conn_type == "postgresql" else conn_type.replace("-", "_")


def _hostname(parts: SplitResult) -> str:
    """The host of a URI's netloc, percent-decoded. A decoded ``/`` (an encoded path in the host, such as a
    socket's) would make the parsed host wrong, so such a host is cut from the netloc itself (case kept)."""
    host = unquote(parts.hostname or "")
    if "/" in host:
        host = parts.netloc.rsplit("@", 1)[-1].split(":", 1)[0]
        host = unquote(host)
    return host


def parse_uri(conn_id: str, uri: str) -> EnvConnection:
    """The URI form: ``swift://test%3Atester:pa%40ss@127.0.0.1:8080?slo_threshold_mb=64``.

    Absent parts come back as Airflow gives them: no login or password is None, no host or schema is
    ``""``, no query is no extra.
    """
    schemes = uri.count("://")
    if not 1 <= schemes <= 2:
        raise ConnectionParseError("neither a JSON object nor a URI (type://...)")
    host_has_scheme = schemes == 2
    try:
        conn_type = urlsplit(uri).scheme
        if not conn_type:
            raise ConnectionParseError("a URI without a connection type")
        rest = uri.replace(f"{conn_type}://", "" if host_has_scheme else "//")
        if host_has_scheme:
            protocol = rest.split("://", 1)[0]
            if "@" in protocol or ":" in protocol:
                raise ConnectionParseError("the host's scheme holds '@' or ':'")
        parts = urlsplit(rest)
        port = parts.port  # a port that is not a number, or out of range, raises here
    except ValueError as exc:
        if isinstance(exc, ConnectionParseError):
            raise
        raise ConnectionParseError("not a valid URI (its port or address)") from None
    host = _hostname(parts)
    if host and host_has_scheme:
        host = f"{parts.scheme}://{host}"
    extra: str | None = None
    if parts.query:
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        extra = _extra_text(query[EXTRA_KEY], EXTRA_KEY) if EXTRA_KEY in query else json.dumps(query)
    return EnvConnection(
        conn_id=conn_id,
        conn_type=_normalize_type(conn_type),
        host=host,
        login=unquote(parts.username) if parts.username else parts.username,
        password=unquote(parts.password) if parts.password else parts.password,
        schema=unquote(parts.path[1:]),
        port=port,
        extra=extra,
    )
