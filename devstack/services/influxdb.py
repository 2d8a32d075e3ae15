"""InfluxDB 1.8 (time series of the gold zone), built from the Go module proxy, cached per version.

Flux and the v2 compatibility API are on, so the official InfluxDBHook works against it: the token is
"user:password", the org is ignored and a bucket is "database/retention-policy". A fresh server gets its
admin user and database from the first readiness probe (see ``InfluxDB.ready``).
"""

from __future__ import annotations

import json
import shutil
import urllib.error
import urllib.parse
import urllib.request

from service import CACHE, HOST, PORTS, STACK, Service, StackError, go_env, http_ok, log, run, secrets_file

INFLUXDB_VERSION = "v1.8.3"
INFLUXDB_BIN = CACHE / "bin" / f"influxd-{INFLUXDB_VERSION}"
INFLUX_DIR = STACK / "influxdb"
INFLUX_ADMIN = "admin"
INFLUX_DATABASE = "datalake"
INFLUX_BUCKET = f"{INFLUX_DATABASE}/autogen"


class InfluxError(RuntimeError):
    """InfluxDB answered, with an error."""


def influx_url() -> str:
    return f"http://{HOST}:{PORTS['influxdb']}"


def influx_token() -> str:
    return f"{INFLUX_ADMIN}:{secrets_file()['influxdb_admin']}"


def influx_query(statement: str, auth: bool = True) -> list[dict]:
    """One InfluxQL statement through /query (POSTed: the password stays out of URLs and logs)."""
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if auth:
        headers["Authorization"] = f"Token {influx_token()}"
    data = urllib.parse.urlencode({"q": statement}).encode()
    req = urllib.request.Request(f"{influx_url()}/query", data=data, headers=headers)  # noqa: S310
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:  # noqa: S310
            body = json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        raise InfluxError(f"HTTP {exc.code}: {exc.read().decode(errors='replace').strip()}") from exc
    errors = [r["error"] for r in body.get("results", []) if "error" in r]
    if "error" in body or errors:
        raise InfluxError(body.get("error") or "; ".join(errors))
    return body.get("results", [])


def influx_databases() -> set[str]:
    series = influx_query("SHOW DATABASES")[0].get("series", [])
    return {row[0] for s in series for row in s.get("values", [])}


class InfluxDB(Service):
    name = "influxdb"
    port = PORTS["influxdb"]
    start_timeout = 60

    def install(self) -> None:
        """Build influxd from the Go module proxy (pure Go: Flux without the libflux tag), cached per
        version."""
        if INFLUXDB_BIN.exists():
            return
        if not shutil.which("go"):
            raise StackError("InfluxDB needs Go to build (https://go.dev); `go` is not on PATH")
        log(f"building InfluxDB {INFLUXDB_VERSION} (first time only, about 2 minutes)")
        gobin = CACHE / f"bin-influxd-{INFLUXDB_VERSION}"
        shutil.rmtree(gobin, ignore_errors=True)
        INFLUXDB_BIN.parent.mkdir(parents=True, exist_ok=True)
        env = {**go_env(), "GOBIN": str(gobin)}
        version = INFLUXDB_VERSION.lstrip("v")
        run(
            [
                "go",
                "install",
                "-trimpath",
                f"-ldflags=-X main.version={version} -X main.branch={version} -X main.commit=go-module-proxy",
                f"github.com/influxdata/influxdb/cmd/influxd@{INFLUXDB_VERSION}",
            ],
            cwd=CACHE,  # outside any Go module: `go install pkg@version` builds that module on its own
            env=env,
        )
        (gobin / "influxd").rename(INFLUXDB_BIN)
        shutil.rmtree(gobin, ignore_errors=True)

    def configure(self) -> None:
        """Write influxd's configuration at every start: loopback only, auth on, Flux on, quiet."""
        for sub in ("meta", "data", "wal"):
            (INFLUX_DIR / sub).mkdir(parents=True, exist_ok=True)
        (INFLUX_DIR / "influxdb.conf").write_text(
            "reporting-disabled = true\n"
            f'bind-address = "{HOST}:{PORTS["influxdb-rpc"]}"\n\n'
            f'[meta]\n  dir = "{INFLUX_DIR / "meta"}"\n  logging-enabled = false\n\n'
            f'[data]\n  dir = "{INFLUX_DIR / "data"}"\n  wal-dir = "{INFLUX_DIR / "wal"}"\n'
            '  index-version = "tsi1"\n  query-log-enabled = false\n  trace-logging-enabled = false\n\n'
            '[coordinator]\n  log-queries-after = "0s"\n\n'
            "[monitor]\n  store-enabled = false\n\n"  # no _internal database filling up the disk
            "[subscriber]\n  enabled = false\n\n"
            "[continuous_queries]\n  log-enabled = false\n\n"
            f'[http]\n  enabled = true\n  bind-address = "{HOST}:{PORTS["influxdb"]}"\n'
            "  auth-enabled = true\n  flux-enabled = true\n  flux-log-enabled = false\n"
            "  log-enabled = false\n  pprof-enabled = false\n\n"
            '[logging]\n  level = "warn"\n  suppress-logo = true\n'
        )

    def argv(self) -> list[str]:
        return [str(INFLUXDB_BIN), "run", "-config", str(INFLUX_DIR / "influxdb.conf")]

    def ready(self) -> bool:
        """/ping, then an authenticated query that lists database `datalake`.

        A fresh server has no user, and with auth on it answers nothing until an admin exists: then (and
        only then, InfluxDB allows it unauthenticated only while no user exists) we create the admin and the
        database, so the first successful readiness probe is also the set-up.
        """
        if not http_ok(f"{influx_url()}/ping"):
            return False
        try:
            databases = influx_databases()
        except InfluxError as exc:
            if "create admin user first" not in str(exc):
                raise
            log("InfluxDB: creating the admin user and the database")
            # The password is URL-safe base64: no quote can appear in it.
            pw = secrets_file()["influxdb_admin"]
            influx_query(f"CREATE USER {INFLUX_ADMIN} WITH PASSWORD '{pw}' WITH ALL PRIVILEGES", auth=False)
            databases = influx_databases()
        if INFLUX_DATABASE not in databases:
            influx_query(f"CREATE DATABASE {INFLUX_DATABASE}")  # retention policy `autogen`, kept forever
            databases = influx_databases()
        return INFLUX_DATABASE in databases


def connections() -> dict[str, dict]:
    return {
        # The official InfluxDBHook: URL = schema://host:port, the extras go to InfluxDBClient as they are.
        # InfluxDB 1.8's v2 API: token "user:password", bucket "datalake/autogen", and the org is ignored.
        # Airflow masks the org as a secret, so not the usual "-" (too short: a warning in every task
        # log) nor a common word (it would be starred out of every log line).
        "influxdb_default": {
            "conn_type": "influxdb",
            "host": HOST,
            "port": PORTS["influxdb"],
            "schema": "http",
            "extra": {"token": influx_token(), "org": "no-org-on-influxdb-1.8", "timeout": 10000},
        },
    }
