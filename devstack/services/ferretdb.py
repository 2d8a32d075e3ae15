"""FerretDB: the MongoDB-wire server of the catalog (and of the gold zone's documents), on SQLite.

Built from the Go module proxy through our small main in ``devstack/ferretdb/`` (it adds an ``_id`` lookup
index to new collections); the binary is cached per version and per hash of our main, go.mod and go.sum.
"""

from __future__ import annotations

import hashlib
import shutil

from service import CACHE, HOST, PORTS, REPO, STACK, Service, StackError, go_env, log, run

FERRETDB_VERSION = "v1.24.2"
FERRETDB_SRC = REPO / "devstack" / "ferretdb"
# Keyed on our main.go, go.mod and go.sum too: a change to either builds a new binary.
FERRETDB_KEY = hashlib.sha256(
    b"".join((FERRETDB_SRC / name).read_bytes() for name in ("main.go", "go.mod", "go.sum"))
).hexdigest()[:12]
FERRETDB_BIN = CACHE / "bin" / f"ferretdb-{FERRETDB_VERSION}-{FERRETDB_KEY}"


def mongo_ping() -> bool:
    import pymongo  # the project's environment has it; imported only when a probe runs

    # Bounded reads too: a server that accepts and never answers must not hang `up` or `status`.
    client: pymongo.MongoClient[dict] = pymongo.MongoClient(
        HOST, PORTS["ferretdb"], serverSelectionTimeoutMS=1500, socketTimeoutMS=5000
    )
    try:
        return client.admin.command("ping").get("ok") == 1
    finally:
        client.close()


class FerretDB(Service):
    name = "ferretdb"
    port = PORTS["ferretdb"]
    start_timeout = 30

    def install(self) -> None:
        """Build FerretDB from the Go module proxy through our small main (cached binary, per version)."""
        if FERRETDB_BIN.exists():
            return
        if not shutil.which("go"):
            raise StackError("FerretDB needs Go to build (https://go.dev); `go` is not on PATH")
        log(f"building FerretDB {FERRETDB_VERSION} (first time only, about 2 minutes)")
        FERRETDB_BIN.parent.mkdir(parents=True, exist_ok=True)
        tmp = FERRETDB_BIN.with_suffix(".tmp")
        run(
            ["go", "build", "-trimpath", "-mod=readonly", "-o", str(tmp), "."], cwd=FERRETDB_SRC, env=go_env()
        )
        tmp.rename(FERRETDB_BIN)

    def argv(self) -> list[str]:
        return [str(FERRETDB_BIN), "-listen", f"{HOST}:{PORTS['ferretdb']}", "-data", str(STACK / "ferretdb")]

    def ready(self) -> bool:
        return mongo_ping()


def connections() -> dict[str, dict]:
    # A stuck server fails an operation after socketTimeoutMS instead of hanging its caller forever.
    mongo_extra = {
        "srv": False,
        "ssl": False,
        "serverSelectionTimeoutMS": 5000,
        "connectTimeoutMS": 3000,
        "socketTimeoutMS": 60000,
    }
    return {
        "mongo_default": {
            "conn_type": "mongo",
            "host": HOST,
            "port": PORTS["ferretdb"],
            "schema": "datalake",
            # Fail in seconds, not pymongo's default 30 s, when the server is down.
            "extra": mongo_extra,
        },
        # The gold zone's documents: the same server, database `datalake_gold`.
        "mongo_gold": {
            "conn_type": "mongo",
            "host": HOST,
            "port": PORTS["ferretdb"],
            "schema": "datalake_gold",
            "extra": mongo_extra,
        },
    }
