"""The catalog for a process that cannot run pymongo itself: Swift's proxy.

Swift's proxy serves every request from one eventlet hub; pymongo's blocking calls and background threads
would stall it. So the middleware asks a child process, this one, over a Unix socket: one JSON line per
request (``{"op": ..., "args": {...}}``), one JSON line per answer (dates as ``{"$date": "<ISO 8601>"}``).
Each connection carries any number of requests, one after the other, and is served by a thread of its own,
through one `Catalog` (pymongo pools). The child exits when its parent does.

`RemoteCatalog` is the parent's side: the few `Catalog` methods the middleware calls, over connections it
keeps open and reuses (green under eventlet, since the proxy patches ``socket``). Answers are short: a
write says whether it happened, not the record it wrote.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import socket
import socketserver
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from datalake_catalog.catalog import Catalog, Status
from datalake_catalog.errors import CatalogError, DuplicateContent, InvalidTransition

ERRORS: dict[str, type[Exception]] = {
    "DuplicateContent": DuplicateContent,
    "InvalidTransition": InvalidTransition,
    "CatalogError": CatalogError,
}


def _tagged(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return {"$date": value.isoformat()}
    raise TypeError(f"the catalog's helper cannot send a {type(value).__name__}")


def _untagged(obj: dict[str, Any]) -> Any:
    if len(obj) == 1 and "$date" in obj:
        when = dt.datetime.fromisoformat(obj["$date"])
        return when if when.tzinfo else when.replace(tzinfo=dt.UTC)
    return obj


def encode(value: Any) -> bytes:
    """One line of the protocol: JSON, datetimes tagged (the records hold no other non-JSON type)."""
    return (json.dumps(value, default=_tagged, separators=(",", ":")) + "\n").encode()


def decode(line: bytes) -> Any:
    return json.loads(line, object_hook=_untagged)


def _statuses(value: Any) -> Any:
    return [Status(v) for v in value] if isinstance(value, list) else Status(value)


def serve_one(catalog: Catalog, request: dict[str, Any]) -> Any:
    op, args = request["op"], request.get("args", {})
    if op == "insert_pending":
        catalog.insert_pending(args["record"])
        return True
    if op == "transition":
        return catalog.transition(
            args["record_id"],
            _statuses(args["expected"]),
            Status(args["new"]),
            set_fields=args.get("set_fields"),
        )
    if op == "replace_exclusive":
        return catalog.replace_exclusive(args["record"], Status(args["expected"])) is not None
    if op == "delete_record":
        return catalog.delete_record(args["record_id"], _statuses(args["expected"]))
    if op == "renew_lease":
        return catalog.renew_lease(args["record_id"], args["until"], Status(args["status"]))
    if op == "find_one":
        return catalog.raw_objects.find_one(args["query"], args.get("projection"))
    if op == "ping":
        return catalog.db.command("ping")
    raise ValueError(f"unknown operation {op!r}")


def serve(path: str, uri: str, database: str, parent: int) -> None:
    from pymongo import MongoClient

    client: Any = MongoClient(
        uri, serverSelectionTimeoutMS=3000, connectTimeoutMS=3000, socketTimeoutMS=30000
    )
    catalog = Catalog(client, database, name=f"swift:{uri}")

    class Handler(socketserver.StreamRequestHandler):
        def handle(self) -> None:
            for line in self.rfile:  # until the parent closes the connection
                try:
                    answer = {"ok": True, "result": serve_one(catalog, decode(line))}
                except Exception as exc:
                    answer = {"ok": False, "error": type(exc).__name__, "message": str(exc)[:2000]}
                self.wfile.write(encode(answer))

    class Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
        daemon_threads = True
        # A proxy's burst of first requests connects at once: a Unix socket refuses (EAGAIN) past its
        # backlog, which socketserver sets to 5.
        request_queue_size = 128

    Path(path).unlink(missing_ok=True)
    server = Server(path, Handler)
    os.chmod(path, 0o600)

    def watch_parent() -> None:
        while os.getppid() == parent:
            time.sleep(1)
        server.shutdown()

    threading.Thread(target=watch_parent, daemon=True).start()
    try:
        server.serve_forever()
    finally:
        Path(path).unlink(missing_ok=True)


class RemoteCatalog:
    """The middleware's catalog: calls to a `serve` child started on first use."""

    def __init__(self, uri: str, database: str, timeout: float = 30.0) -> None:
        self.uri = uri
        self.database = database
        self.timeout = timeout
        self.path = str(Path(tempfile.gettempdir()) / f"datalake-catalog-{os.getpid()}-{id(self):x}.sock")
        self._child: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()
        #: open connections to the child, free for the next call (one call uses one at a time)
        self._idle: list[socket.socket] = []
        #: the child listens (its socket is bound): calls that come while it starts wait for it
        self._listening = False

    def _start(self) -> None:
        with self._lock:
            if self._child is not None and self._child.poll() is None and self._listening:
                return
            self._listening = False
            cmd = [
                sys.executable,
                "-m",
                "datalake_catalog.catalog_server",
                "--socket",
                self.path,
                "--uri",
                self.uri,
                "--database",
                self.database,
                "--parent",
                str(os.getpid()),
            ]
            for conn in self._idle:  # to a child that is gone
                conn.close()
            self._idle.clear()
            Path(self.path).unlink(missing_ok=True)  # a killed child's: ready is when the new one binds
            self._child = subprocess.Popen(cmd, stdin=subprocess.DEVNULL)
            deadline = time.monotonic() + 30
            while True:  # listening is when a connection is taken (a bound socket may not listen yet)
                try:
                    self._idle.append(self._connect())
                    break
                except OSError:
                    if self._child.poll() is not None or time.monotonic() > deadline:
                        self._child.kill()
                        raise CatalogError("the catalog's helper process did not start") from None
                    pause(0.05)
            self._listening = True

    def call(self, op: str, **args: Any) -> Any:
        if self._child is None or not self._listening or self._child.poll() is not None:
            self._start()
        conn = self._idle.pop() if self._idle else self._connect()
        try:
            conn.sendall(encode({"op": op, "args": args}))
            data = b""
            while not data.endswith(b"\n"):
                chunk = conn.recv(65536)
                if not chunk:
                    raise CatalogError("the catalog's helper process hung up")
                data += chunk
        except BaseException:
            conn.close()  # half a conversation: this connection is no use to the next call
            raise
        self._idle.append(conn)
        answer = decode(data)
        if answer["ok"]:
            return answer["result"]
        error = ERRORS.get(answer["error"], CatalogError)
        if error is DuplicateContent:
            raise DuplicateContent(answer["message"], None)
        raise error(f"{answer['error']}: {answer['message']}")

    def _connect(self) -> socket.socket:
        conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            conn.settimeout(self.timeout)
            conn.connect(self.path)
        except BaseException:
            conn.close()
            raise
        return conn

    def insert_pending(self, record: dict[str, Any]) -> None:
        """Write ``record`` as pending (`Catalog.insert_pending`); DuplicateContent when its key is taken."""
        self.call("insert_pending", record=record)

    def transition(
        self, record_id: str, expected: Any, new: Status, *, set_fields: dict[str, Any] | None = None
    ) -> Any:
        wanted = [s.value for s in expected] if isinstance(expected, list | tuple) else expected.value
        return self.call(
            "transition", record_id=record_id, expected=wanted, new=new.value, set_fields=set_fields
        )

    def replace_exclusive(self, record: dict[str, Any], expected: Status) -> bool:
        """`Catalog.replace_exclusive`: whether the record was still in ``expected`` and is now ``record``."""
        return bool(self.call("replace_exclusive", record=record, expected=expected.value))

    def delete_record(self, record_id: str, expected: Status) -> Any:
        return self.call("delete_record", record_id=record_id, expected=expected.value)

    def renew_lease(self, record_id: str, until: dt.datetime, status: Status = Status.PENDING) -> bool:
        """`Catalog.renew_lease`: whether the record was still in ``status`` and now holds until ``until``."""
        return bool(self.call("renew_lease", record_id=record_id, until=until, status=status.value))

    def find_one(self, query: dict[str, Any], projection: dict[str, Any] | None = None) -> Any:
        return self.call("find_one", query=query, projection=projection)


def pause(seconds: float) -> None:
    """Sleep without stalling an eventlet hub (Swift's proxy does not patch ``time``)."""
    green = sys.modules.get("eventlet")
    if green is not None:
        green.sleep(seconds)
    else:
        time.sleep(seconds)


def spawn(work: Callable[..., Any], *args: Any) -> None:
    """Run ``work(*args)`` beside the caller, who does not wait for it: a green thread in an eventlet hub
    (Swift's proxy), else a daemon thread."""
    green = sys.modules.get("eventlet")
    if green is not None:
        green.spawn_n(work, *args)
    else:
        threading.Thread(target=work, args=args, daemon=True).start()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="the catalog for Swift's proxy (datalake_catalog)")
    parser.add_argument("--socket", required=True)
    parser.add_argument("--uri", required=True)
    parser.add_argument("--database", default="datalake")
    parser.add_argument("--parent", type=int, required=True)
    args = parser.parse_args(argv)
    serve(args.socket, args.uri, args.database, args.parent)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
