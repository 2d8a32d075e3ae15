"""The catalogue middleware's own logic, with no server: which requests it takes, what it reads from
headers, and that it fails closed when the catalog cannot be reached (a closed port, for real)."""

from __future__ import annotations

import io
import socket
from typing import Any

from datalake_catalog.swift_middleware import (
    HashingInput,
    filter_factory,
    object_metadata,
    parse_path,
    watched,
)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Downstream:
    """The rest of Swift's pipeline: records whether it was called."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def __call__(self, env: dict[str, Any], start_response: Any) -> list[bytes]:
        self.calls.append(f"{env['REQUEST_METHOD']} {env['PATH_INFO']}")
        start_response("201 Created", [("Etag", '"abc"')])
        return [b""]


def call(app: Any, method: str, path: str, body: bytes = b"", **headers: str) -> tuple[str, bytes]:
    env = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "wsgi.input": io.BytesIO(body),
        "CONTENT_LENGTH": str(len(body)),
        **{f"HTTP_{k.upper()}": v for k, v in headers.items()},
    }
    seen: dict[str, str] = {}

    def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        seen["status"] = status
        return lambda data: None

    out = b"".join(app(env, start))
    return seen["status"], out


def test_parse_path() -> None:
    assert parse_path("/v1/AUTH_test/raw/a/b.csv") == ("AUTH_test", "raw", "a/b.csv")
    # PATH_INFO is a WSGI string: the request's bytes (unquoted) seen as Latin-1
    assert parse_path("/v1/AUTH_test/raw/été.csv".encode().decode("latin-1")) == (
        "AUTH_test",
        "raw",
        "été.csv",
    )
    assert parse_path("/v1/AUTH_test/raw/100%25.csv") == ("AUTH_test", "raw", "100%25.csv")
    assert parse_path("/v1/AUTH_test/raw") is None
    assert parse_path("/v1/AUTH_test/raw/") is None
    assert parse_path("/info") is None


def test_watched_never_takes_segments_or_excluded_containers() -> None:
    assert watched(["*/*"], [], "AUTH_test", "lab")
    assert not watched(["*/*"], [], "AUTH_test", "lab_segments")
    assert not watched(["*/*"], [], "AUTH_test", "bucket+segments")
    assert not watched(["*/*"], ["*/datalake-quarantine"], "AUTH_test", "datalake-quarantine")
    assert watched(["AUTH_lab/*"], [], "AUTH_lab", "x") and not watched(["AUTH_lab/*"], [], "AUTH_test", "x")


def test_metadata_sets_the_format_and_nothing_else_of_the_record() -> None:
    env = {
        "HTTP_X_OBJECT_META_DATALAKE_FORMAT": "lab_csv",
        "HTTP_X_OBJECT_META_ROOM": "U4-302",
        "HTTP_X_OBJECT_META_STATUS": "processed",
        "HTTP_X_OBJECT_META__ID": "forged",
        "HTTP_X_OBJECT_META_A.B": "dot",
        "HTTP_X_STATUS": "processed",
    }
    fmt, other = object_metadata(env)
    assert fmt == "lab_csv"
    # a client's "status" or "_id" is only metadata, kept under other_data
    assert other == {"room": "U4-302", "status": "processed", "-id": "forged", "a_b": "dot"}


def test_hashing_input_counts_what_streams_through() -> None:
    body = HashingInput(io.BytesIO(b"hello world"), keep=True)
    assert body.read(5) + body.read() == b"hello world"
    assert body.size == 11
    assert body.sha256.hexdigest() == "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9"
    assert bytes(body.kept or b"") == b"hello world"


def test_fails_closed_when_the_catalog_cannot_be_reached() -> None:
    down = Downstream()
    app = filter_factory({}, catalog_uri=f"mongodb://127.0.0.1:{closed_port()}/")(down)
    status, body = call(app, "PUT", "/v1/AUTH_test/lab/x.csv", b"a,b\n1,2\n")
    assert status.startswith("503")
    assert b"nothing stored" in body
    assert down.calls == []  # the object never reached Swift
    # reads, containers and excluded containers are none of its business
    assert call(app, "GET", "/v1/AUTH_test/lab/x.csv")[0].startswith("201")
    assert call(app, "PUT", "/v1/AUTH_test/lab")[0].startswith("201")
    assert call(app, "PUT", "/v1/AUTH_test/lab_segments/x/00000001", b"x")[0].startswith("201")


def test_fail_open_stores_uncatalogued() -> None:
    down = Downstream()
    app = filter_factory({}, catalog_uri=f"mongodb://127.0.0.1:{closed_port()}/", fail_open="true")(down)
    status, _ = call(app, "PUT", "/v1/AUTH_test/lab/x.csv", b"a,b\n")
    assert status.startswith("201")
    assert down.calls == ["PUT /v1/AUTH_test/lab/x.csv"]
