"""The local stack of real servers: `python devstack/stack.py up|down|status|env [SERVICE...]`.

Everything runs on 127.0.0.1 on explicit non-default ports, with data, logs and PID files under one
git-ignored folder (``.stack/`` in the checkout, or ``$DATALAKE_STACK_DIR``). Build caches (the Swift
virtual environment, the FerretDB binary, uv's wheels) live under ``~/.cache/datalake`` so a fresh clone
on the same machine starts in seconds. Each service is ready only when a real request answers: an
authenticated Swift HEAD, a MongoDB ping, ``pg_isready`` plus a query, Airflow's health endpoint.

This file uses only the standard library, plus pymongo for the MongoDB ping, so that it runs from the
project's virtual environment before the package itself matters.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
STACK = Path(os.environ.get("DATALAKE_STACK_DIR", REPO / ".stack")).resolve()
CACHE = Path(os.environ.get("DATALAKE_CACHE_DIR", Path.home() / ".cache" / "datalake")).resolve()
VENV = Path(os.environ.get("DATALAKE_VENV", REPO / ".venv"))
HOST = "127.0.0.1"

SWIFT_VERSION = "2.38.3"
FERRETDB_VERSION = "v1.24.2"

# A second stack (e.g. the stack's own tests) can run beside the first with DATALAKE_PORT_OFFSET.
PORT_OFFSET = int(os.environ.get("DATALAKE_PORT_OFFSET", "0"))
PORTS = {
    "memcached": 21211,
    "swift-object": 16010,
    "swift-container": 16011,
    "swift-account": 16012,
    "swift-proxy": 18080,
    "ferretdb": 27018,
    "postgres": 15432,
    "airflow-api-server": 18280,
}
PORTS = {name: port + PORT_OFFSET for name, port in PORTS.items()}

SWIFT_VENV = CACHE / f"swift-{SWIFT_VERSION}"
# Keyed on our main.go and go.sum too: a change to either builds a new binary.
FERRETDB_SRC = REPO / "devstack" / "ferretdb"
FERRETDB_KEY = hashlib.sha256(
    b"".join((FERRETDB_SRC / name).read_bytes() for name in ("main.go", "go.sum"))
).hexdigest()[:12]
FERRETDB_BIN = CACHE / "bin" / f"ferretdb-{FERRETDB_VERSION}-{FERRETDB_KEY}"
RUN = STACK / "run"
LOGS = STACK / "logs"


class StackError(RuntimeError):
    """A service could not be installed, started or reached; the message says which and why."""


# --------------------------------------------------------------------------- helpers


def log(msg: str) -> None:
    print(f"[stack] {msg}", flush=True)


def run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    """Run a set-up command; on failure show its output, since set-up errors are otherwise opaque."""
    proc = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if proc.returncode != 0:
        raise StackError(f"command failed ({proc.returncode}): {' '.join(cmd)}\n{proc.stdout}\n{proc.stderr}")
    return proc


def is_root() -> bool:
    return os.geteuid() == 0


def apt_install(*packages: str) -> None:
    """Install Debian packages when we may (root); otherwise say exactly what to install."""
    if not shutil.which("apt-get"):
        raise StackError(f"missing {', '.join(packages)} and no apt-get here: install them by hand")
    if not is_root():
        raise StackError(f"missing {', '.join(packages)}: run `sudo apt-get install {' '.join(packages)}`")
    log(f"apt-get install {' '.join(packages)}")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    run(["apt-get", "update", "-qq"], env=env)
    run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", *packages], env=env)


def secrets_file() -> dict[str, str]:
    """Passwords are made once per stack folder and kept there (mode 0600), never in the repository."""
    path = STACK / "secrets.json"
    values = json.loads(path.read_text()) if path.exists() else {}
    wanted = {  # name -> random bytes
        "postgres": 18,
        "airflow_db": 18,
        "datalake_db": 18,
        "swift_tester": 18,
        "swift_admin": 18,
        "jwt": 32,
        "airflow_admin": 12,
        "ferretdb_db": 18,
    }
    missing = {key: secrets.token_urlsafe(n) for key, n in wanted.items() if key not in values}
    if not missing:
        return values
    values.update(missing)  # a stack made by an older version gains the new services' secrets
    STACK.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(values, indent=2))
    path.chmod(0o600)
    return values


def port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.3)
        return s.connect_ex((HOST, port)) == 0


def wait_until(what: str, check: Callable[[], bool], timeout: float, proc: Service | None = None) -> None:
    deadline = time.monotonic() + timeout
    last_error = ""
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except Exception as exc:  # readiness probes fail in many ways while a server starts
            last_error = f"{type(exc).__name__}: {exc}"
        if proc is not None and proc.pid() is None:
            raise StackError(f"{what} exited during start-up; see {proc.log_path}\n{proc.tail_log()}")
        time.sleep(0.3)
    detail = f"\n{proc.tail_log()}" if proc else ""
    raise StackError(f"{what} not ready after {timeout:.0f}s ({last_error or 'no answer'}){detail}")


# --------------------------------------------------------------------------- processes


@dataclass
class Service:
    """One long-running process of ours: started in its own session, known by its PID file."""

    name: str
    port: int | None
    argv: Callable[[], list[str]]
    ready: Callable[[], bool]
    prepare: Callable[[], None] = lambda: None
    user: str | None = None
    env: Callable[[], dict[str, str]] = dict
    start_timeout: float = 60
    needs: list[str] = field(default_factory=list)

    @property
    def pid_path(self) -> Path:
        return RUN / f"{self.name}.pid"

    @property
    def log_path(self) -> Path:
        return LOGS / f"{self.name}.log"

    def pid(self) -> int | None:
        """The PID from our file, only if that process is alive and is still the one we started."""
        try:
            pid = int(self.pid_path.read_text().split()[0])
            stamp = self.pid_path.read_text().split()[1]
        except (OSError, ValueError, IndexError):
            return None
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return None
        fields = stat.rsplit(")", 1)[1].split()
        if fields[0] == "Z" or fields[19] != stamp:  # zombie, or the PID was reused
            return None
        return pid

    def tail_log(self, lines: int = 25) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def healthy(self) -> bool:
        try:
            return bool(self.ready())
        except Exception:
            return False

    def start(self) -> None:
        if self.pid() is not None:
            wait_until(self.name, self.ready, self.start_timeout, self)
            return
        if self.port is not None and port_open(self.port):
            raise StackError(
                f"port {self.port} for {self.name} is taken by a process that is not ours; "
                f"stop it or set another port"
            )
        self.prepare()
        LOGS.mkdir(parents=True, exist_ok=True)
        RUN.mkdir(parents=True, exist_ok=True)
        log(f"starting {self.name}" + (f" on {HOST}:{self.port}" if self.port else ""))
        with open(self.log_path, "ab") as out:
            proc = subprocess.Popen(
                self.argv(),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                cwd=STACK,
                env={**os.environ, **self.env()},
                user=self.user if is_root() else None,
            )
        stamp = Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
        self.pid_path.write_text(f"{proc.pid} {stamp}\n")
        wait_until(self.name, self.ready, self.start_timeout, self)

    def stop(self) -> bool:
        pid = self.pid()
        if pid is None:
            self.pid_path.unlink(missing_ok=True)
            return False
        log(f"stopping {self.name} (pid {pid})")
        for sig, grace in ((signal.SIGTERM, 20.0), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(pid, sig)  # the whole session: Airflow's and Swift's children too
            except ProcessLookupError:
                break
            deadline = time.monotonic() + grace
            while time.monotonic() < deadline and self.pid() is not None:
                time.sleep(0.2)
            if self.pid() is None:
                break
        self.pid_path.unlink(missing_ok=True)
        return True


# --------------------------------------------------------------------------- memcached + Swift

SWIFT_DIR = STACK / "swift"


def swift_bin(name: str) -> str:
    return str(SWIFT_VENV / "bin" / name)


def install_memcached() -> None:
    if not shutil.which("memcached"):
        apt_install("memcached")


def install_swift() -> None:
    """Swift lives in its own virtual environment, cached per version outside the checkout."""
    marker = SWIFT_VENV / ".complete"
    if marker.exists():
        return
    log(f"installing OpenStack Swift {SWIFT_VERSION} into {SWIFT_VENV}")
    shutil.rmtree(SWIFT_VENV, ignore_errors=True)
    uv = VENV / "bin" / "uv"
    if uv.exists():
        env = {**os.environ, "UV_CACHE_DIR": str(CACHE / "uv")}
        run([str(uv), "venv", "-q", "--python", sys.executable, str(SWIFT_VENV)], env=env)
        pip = [str(uv), "pip", "install", "-q", "--python", str(SWIFT_VENV / "bin" / "python")]
        run([*pip, f"swift=={SWIFT_VERSION}", "python-swiftclient"], env=env)
    else:
        run([sys.executable, "-m", "venv", str(SWIFT_VENV)])
        run(
            [
                str(SWIFT_VENV / "bin" / "pip"),
                "install",
                "-q",
                f"swift=={SWIFT_VERSION}",
                "python-swiftclient",
            ]
        )
    marker.write_text(SWIFT_VERSION)


def swift_conf_common(port: int) -> str:
    user = "root" if is_root() else os.environ.get("USER") or Path.home().name
    return (
        "[DEFAULT]\n"
        f"bind_ip = {HOST}\nbind_port = {port}\nworkers = 0\nuser = {user}\n"
        f"swift_dir = {SWIFT_DIR / 'etc'}\ndevices = {SWIFT_DIR / 'srv'}\nmount_check = false\n"
        "log_level = INFO\n"
    )


def prepare_swift() -> None:
    """Write Swift's configuration and build one-replica rings with one device (idempotent)."""
    install_memcached()
    install_swift()
    etc = SWIFT_DIR / "etc"
    (SWIFT_DIR / "srv" / "d1").mkdir(parents=True, exist_ok=True)
    etc.mkdir(parents=True, exist_ok=True)
    pw = secrets_file()
    conf_path = etc / "swift.conf"
    if not conf_path.exists():
        conf_path.write_text(
            "[swift-hash]\n"
            f"swift_hash_path_suffix = {secrets.token_hex(8)}\n"
            f"swift_hash_path_prefix = {secrets.token_hex(8)}\n\n"
            "[storage-policy:0]\nname = gold\ndefault = yes\n\n"
            "[swift-constraints]\nmax_file_size = 5368709122\n"
        )
    for kind in ("object", "container", "account"):
        port = PORTS[f"swift-{kind}"]
        (etc / f"{kind}-server.conf").write_text(
            swift_conf_common(port)
            + f"\n[pipeline:main]\npipeline = {kind}-server\n\n[app:{kind}-server]\nuse = egg:swift#{kind}\n"
            + f"\n[{kind}-replicator]\n[{kind}-updater]\n[{kind}-auditor]\n"
        )
        builder = etc / f"{kind}.builder"
        if not (etc / f"{kind}.ring.gz").exists():
            rb = swift_bin("swift-ring-builder")
            builder.unlink(missing_ok=True)
            run([rb, str(builder), "create", "10", "1", "1"])
            run([rb, str(builder), "add", f"r1z1-{HOST}:{port}/d1", "1"])
            run([rb, str(builder), "rebalance"])
    (etc / "proxy-server.conf").write_text(
        swift_conf_common(PORTS["swift-proxy"]) + "\n[pipeline:main]\n"
        "pipeline = catch_errors gatekeeper healthcheck proxy-logging cache listing_formats bulk "
        "tempurl slo dlo tempauth copy symlink proxy-logging proxy-server\n\n"
        "[app:proxy-server]\nuse = egg:swift#proxy\naccount_autocreate = true\n"
        "allow_account_management = true\n\n"
        "[filter:tempauth]\nuse = egg:swift#tempauth\n"
        f"user_admin_admin = {pw['swift_admin']} .admin .reseller_admin\n"
        f"user_test_tester = {pw['swift_tester']} .admin\n\n"
        f"[filter:cache]\nuse = egg:swift#memcache\nmemcache_servers = {HOST}:{PORTS['memcached']}\n\n"
        "[filter:catch_errors]\nuse = egg:swift#catch_errors\n\n"
        "[filter:gatekeeper]\nuse = egg:swift#gatekeeper\n\n"
        "[filter:healthcheck]\nuse = egg:swift#healthcheck\n\n"
        "[filter:proxy-logging]\nuse = egg:swift#proxy_logging\n\n"
        "[filter:listing_formats]\nuse = egg:swift#listing_formats\n\n"
        "[filter:bulk]\nuse = egg:swift#bulk\n\n"
        "[filter:tempurl]\nuse = egg:swift#tempurl\n\n"
        "[filter:slo]\nuse = egg:swift#slo\n\n"
        "[filter:dlo]\nuse = egg:swift#dlo\n\n"
        "[filter:copy]\nuse = egg:swift#copy\n\n"
        "[filter:symlink]\nuse = egg:swift#symlink\n"
    )


def http_ok(url: str, headers: dict[str, str] | None = None, method: str = "GET") -> bool:
    req = urllib.request.Request(url, headers=headers or {}, method=method)  # noqa: S310 (loopback)
    with urllib.request.urlopen(req, timeout=3) as resp:  # noqa: S310
        return 200 <= resp.status < 300


def swift_server_ready(kind: str) -> Callable[[], bool]:
    return lambda: port_open(PORTS[f"swift-{kind}"])


def swift_auth() -> tuple[str, str]:
    pw = secrets_file()
    req = urllib.request.Request(
        f"http://{HOST}:{PORTS['swift-proxy']}/auth/v1.0",
        headers={"X-Auth-User": "test:tester", "X-Auth-Key": pw["swift_tester"]},
    )
    with urllib.request.urlopen(req, timeout=5) as resp:  # noqa: S310
        return resp.headers["X-Storage-Url"], resp.headers["X-Auth-Token"]


def swift_proxy_ready() -> bool:
    url, token = swift_auth()
    return http_ok(url, {"X-Auth-Token": token}, method="HEAD")


# --------------------------------------------------------------------------- FerretDB


def install_ferretdb() -> None:
    """Build FerretDB from the Go module proxy through our small main (cached binary, per version)."""
    if FERRETDB_BIN.exists():
        return
    if not shutil.which("go"):
        raise StackError("FerretDB needs Go to build (https://go.dev); `go` is not on PATH")
    log(f"building FerretDB {FERRETDB_VERSION} (first time only, about 2 minutes)")
    FERRETDB_BIN.parent.mkdir(parents=True, exist_ok=True)
    tmp = FERRETDB_BIN.with_suffix(".tmp")
    env = {**os.environ, "CGO_ENABLED": "0"}
    run(["go", "build", "-trimpath", "-o", str(tmp), "."], cwd=FERRETDB_SRC, env=env)
    tmp.rename(FERRETDB_BIN)


def ferretdb_env() -> dict[str, str]:
    """FerretDB stores its collections in the stack's PostgreSQL (database ``ferretdb``)."""
    pw = secrets_file()["ferretdb_db"]
    return {"FERRETDB_POSTGRESQL_URL": f"postgres://ferretdb:{pw}@{HOST}:{PORTS['postgres']}/ferretdb"}


def mongo_ping() -> bool:
    import pymongo

    client = pymongo.MongoClient(HOST, PORTS["ferretdb"], serverSelectionTimeoutMS=1500)
    try:
        return client.admin.command("ping").get("ok") == 1
    finally:
        client.close()


# --------------------------------------------------------------------------- PostgreSQL

PG_DATA = STACK / "postgres" / "data"
PG_SOCK = STACK / "postgres" / "sock"
PG_USER = "postgres"  # the OS user that owns the cluster when we run as root (postgres refuses root)


def pg_bindir() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), reverse=True)
    if not found and shutil.which("pg_config"):
        bindir = Path(run(["pg_config", "--bindir"]).stdout.strip())
        if (bindir / "initdb").exists():
            return bindir
    if not found:
        apt_install("postgresql")
        found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), reverse=True)
    if not found:
        raise StackError("PostgreSQL server binaries (initdb) not found after install")
    return found[0].parent


def as_pg_user(cmd: list[str]) -> list[str]:
    return ["runuser", "-u", PG_USER, "--", *cmd] if is_root() else cmd


def prepare_postgres() -> None:
    if (PG_DATA / "PG_VERSION").exists():
        return
    bindir = pg_bindir()
    pw = secrets_file()
    PG_SOCK.mkdir(parents=True, exist_ok=True)
    PG_DATA.mkdir(parents=True, exist_ok=True)
    pwfile = STACK / "postgres" / "pwfile"
    pwfile.write_text(pw["postgres"] + "\n")
    if is_root():
        shutil.chown(PG_DATA.parent, PG_USER)
        for p in (PG_DATA, PG_SOCK, pwfile):
            shutil.chown(p, PG_USER)
    PG_DATA.chmod(0o700)
    log("initdb of the stack's PostgreSQL cluster")
    run(
        as_pg_user(
            [
                str(bindir / "initdb"),
                "-D",
                str(PG_DATA),
                "-U",
                "postgres",
                f"--pwfile={pwfile}",
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
            ]
        )
    )
    pwfile.unlink()


def postgres_argv() -> list[str]:
    return [
        str(pg_bindir() / "postgres"),
        "-D",
        str(PG_DATA),
        "-p",
        str(PORTS["postgres"]),
        "-c",
        f"listen_addresses={HOST}",
        "-c",
        f"unix_socket_directories={PG_SOCK}",
        "-c",
        "max_connections=200",
        "-c",
        "fsync=on",
    ]


def psql(sql: str, db: str = "postgres") -> str:
    cmd = as_pg_user(
        [
            str(pg_bindir() / "psql"),
            "-h",
            str(PG_SOCK),
            "-p",
            str(PORTS["postgres"]),
            "-U",
            "postgres",
            "-d",
            db,
            "-v",
            "ON_ERROR_STOP=1",
            "-tA",
        ]
    )
    # SQL on stdin, not argv: role passwords must not show in `ps`.
    return run(cmd, input=sql).stdout.strip()


def postgres_ready() -> bool:
    ok = subprocess.run(
        [str(pg_bindir() / "pg_isready"), "-h", HOST, "-p", str(PORTS["postgres"]), "-q"], check=False
    )
    return ok.returncode == 0 and psql("select 1") == "1"


def ensure_databases() -> None:
    """Roles and databases for Airflow's metadata, the gold zone and FerretDB (idempotent)."""
    pw = secrets_file()
    for role, db, secret in (
        ("airflow", "airflow", "airflow_db"),
        ("datalake", "datalake", "datalake_db"),
        ("ferretdb", "ferretdb", "ferretdb_db"),  # FerretDB's storage (the catalog's MongoDB wire server)
    ):
        # Names are our constants; the password is URL-safe base64 (no quote can appear in it).
        if psql(f"select 1 from pg_roles where rolname = '{role}'") != "1":  # noqa: S608
            psql(f"create role {role} login password '{pw[secret]}'")
        if psql(f"select 1 from pg_database where datname = '{db}'") != "1":  # noqa: S608
            psql(f"create database {db} owner {role}")


# --------------------------------------------------------------------------- Airflow

AIRFLOW_HOME = STACK / "airflow"


def airflow_bin() -> str:
    path = VENV / "bin" / "airflow"
    if not path.exists():
        raise StackError(f"{path} missing: run `make install` first (installs Airflow and this provider)")
    return str(path)


def airflow_env() -> dict[str, str]:
    """The Airflow settings of the stack (also written to the env file)."""
    pw = secrets_file()
    api = f"http://{HOST}:{PORTS['airflow-api-server']}"
    return {
        "AIRFLOW_HOME": str(AIRFLOW_HOME),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": (
            f"postgresql+psycopg2://airflow:{pw['airflow_db']}@{HOST}:{PORTS['postgres']}/airflow"
        ),
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__PARALLELISM": "4",
        "AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG": "4",
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(AIRFLOW_HOME / "dags"),
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{api}/execution/",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
        "AIRFLOW__API__HOST": HOST,
        "AIRFLOW__API__PORT": str(PORTS["airflow-api-server"]),
        "AIRFLOW__API__BASE_URL": api,
        "AIRFLOW__API__WORKERS": "1",
        "AIRFLOW__API_AUTH__JWT_SECRET": pw["jwt"],
        "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False",
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "10",
        "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "10",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "2",
        "AIRFLOW__TRIGGERER__CAPACITY": "200",
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(AIRFLOW_HOME / "logs"),
    }


def prepare_airflow() -> None:
    """Create the metadata schema once; `db migrate` is idempotent but slow, so a marker skips it."""
    (AIRFLOW_HOME / "dags").mkdir(parents=True, exist_ok=True)
    marker = AIRFLOW_HOME / ".migrated"
    if marker.exists():
        return
    log("airflow db migrate (first time only)")
    run([airflow_bin(), "db", "migrate"], env={**os.environ, **stack_env()})
    marker.write_text("ok")


def airflow_health() -> bool:
    url = f"http://{HOST}:{PORTS['airflow-api-server']}/api/v2/monitor/health"
    with urllib.request.urlopen(url, timeout=3) as resp:
        body = json.loads(resp.read())
    return body.get("metadatabase", {}).get("status") == "healthy"


def airflow_component_ready(component: str) -> Callable[[], bool]:
    """Ready once the API server reports a heartbeat from this component (it is then truly working)."""

    def check() -> bool:
        url = f"http://{HOST}:{PORTS['airflow-api-server']}/api/v2/monitor/health"
        with urllib.request.urlopen(url, timeout=3) as resp:
            body = json.loads(resp.read())
        return body.get(component, {}).get("status") == "healthy"

    return check


# --------------------------------------------------------------------------- env file


def connections() -> dict[str, dict]:
    pw = secrets_file()
    return {
        "swift_default": {
            "conn_type": "swift",
            "host": HOST,
            "port": PORTS["swift-proxy"],
            "login": "test:tester",
            "password": pw["swift_tester"],
            "extra": {"auth_version": "1.0"},
        },
        "mongo_default": {
            "conn_type": "mongo",
            "host": HOST,
            "port": PORTS["ferretdb"],
            "schema": "datalake",
            # Fail in seconds, not pymongo's default 30 s, when the server is down.
            "extra": {"srv": False, "ssl": False, "serverSelectionTimeoutMS": 5000, "connectTimeoutMS": 3000},
        },
        "postgres_default": {
            "conn_type": "postgres",
            "host": HOST,
            "port": PORTS["postgres"],
            "login": "datalake",
            "password": pw["datalake_db"],
            "schema": "datalake",
        },
    }


def stack_env() -> dict[str, str]:
    env = {
        "DATALAKE_STACK_DIR": str(STACK),
        "DATALAKE_SWIFT_BIN": str(SWIFT_VENV / "bin"),
        "DATALAKE_PG_SOCKET": str(PG_SOCK),
        **airflow_env(),
    }
    for conn_id, conn in connections().items():
        env[f"AIRFLOW_CONN_{conn_id.upper()}"] = json.dumps(conn, separators=(",", ":"))
    return env


def write_env_file() -> Path:
    path = STACK / "env"
    lines = ["# Written by `make stack-up`: source it (`. .stack/env`) to use the local stack."]
    for key, value in stack_env().items():
        quoted = "'" + value.replace("'", "'\"'\"'") + "'"
        lines.append(f"export {key}={quoted}")
    path.write_text("\n".join(lines) + "\n")
    path.chmod(0o600)
    return path


# --------------------------------------------------------------------------- the services


def services() -> dict[str, Service]:
    def conf(kind: str) -> str:
        return str(SWIFT_DIR / "etc" / f"{kind}-server.conf")

    svc = [
        Service(
            "memcached",
            PORTS["memcached"],
            lambda: [
                shutil.which("memcached") or "memcached",
                "-l",
                HOST,
                "-p",
                str(PORTS["memcached"]),
                "-U",
                "0",
                "-m",
                "64",
                *(["-u", "root"] if is_root() else []),
            ],
            lambda: port_open(PORTS["memcached"]),
            prepare=install_memcached,
            start_timeout=15,
        ),
        *(
            Service(
                f"swift-{kind}",
                PORTS[f"swift-{kind}"],
                (lambda kind=kind: [swift_bin(f"swift-{kind}-server"), conf(kind), "-v"]),
                swift_server_ready(kind),
                prepare=prepare_swift,
                start_timeout=30,
            )
            for kind in ("object", "container", "account")
        ),
        Service(
            "swift-proxy",
            PORTS["swift-proxy"],
            lambda: [swift_bin("swift-proxy-server"), conf("proxy"), "-v"],
            swift_proxy_ready,
            prepare=prepare_swift,
            start_timeout=45,
        ),
        Service(
            "postgres",
            PORTS["postgres"],
            postgres_argv,
            postgres_ready,
            prepare=prepare_postgres,
            user=PG_USER,
            start_timeout=60,
        ),
        Service(
            "ferretdb",
            PORTS["ferretdb"],
            lambda: [str(FERRETDB_BIN), "-listen", f"{HOST}:{PORTS['ferretdb']}"],
            mongo_ping,
            prepare=install_ferretdb,
            env=ferretdb_env,
            start_timeout=30,
            needs=["postgres"],
        ),
        Service(
            "airflow-api-server",
            PORTS["airflow-api-server"],
            lambda: [airflow_bin(), "api-server"],
            airflow_health,
            prepare=prepare_airflow,
            env=stack_env,
            start_timeout=180,
            needs=["postgres"],
        ),
        *(
            Service(
                f"airflow-{component}",
                None,
                (lambda component=component: [airflow_bin(), component]),
                airflow_component_ready(health_key),
                env=stack_env,
                start_timeout=180,
                needs=["airflow-api-server"],
            )
            for component, health_key in (
                ("scheduler", "scheduler"),
                ("dag-processor", "dag_processor"),
                ("triggerer", "triggerer"),
            )
        ),
    ]
    return {s.name: s for s in svc}


GROUPS = {
    "swift": ["memcached", "swift-object", "swift-container", "swift-account", "swift-proxy"],
    "mongo": ["ferretdb"],
    "airflow": ["airflow-api-server", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer"],
}


def select(names: list[str], with_needs: bool = True) -> list[Service]:
    """Services named (or in named groups), plus what they need (when starting), in start order."""
    all_svc = services()
    wanted: set[str] = set()
    for name in names or list(all_svc):
        members = GROUPS.get(name, [name])
        for member in members:
            if member not in all_svc:
                raise StackError(f"unknown service {member!r}; known: {', '.join(all_svc)}")
            wanted.add(member)
    changed = with_needs
    while changed:
        changed = False
        for name in list(wanted):
            for need in all_svc[name].needs:
                if need not in wanted:
                    wanted.add(need)
                    changed = True
    return [s for name, s in all_svc.items() if name in wanted]


def cmd_up(names: list[str]) -> None:
    started = time.monotonic()
    STACK.mkdir(parents=True, exist_ok=True)
    secrets_file()
    write_env_file()
    for svc in select(names):
        svc.start()
        if svc.name == "postgres":
            ensure_databases()
    log(f"ready in {time.monotonic() - started:.1f}s; env file: {STACK / 'env'}")
    cmd_status(names)


def cmd_down(names: list[str]) -> None:
    stopped = [svc.name for svc in reversed(select(names, with_needs=False)) if svc.stop()]
    log(f"stopped: {', '.join(stopped) or 'nothing was running'}")


def cmd_status(names: list[str]) -> int:
    bad = 0
    print(f"{'service':<24}{'port':>7}{'pid':>9}  health")
    for svc in select(names, with_needs=False):
        pid = svc.pid()
        health = "healthy" if pid and svc.healthy() else ("unhealthy" if pid else "stopped")
        bad += health != "healthy"
        print(f"{svc.name:<24}{svc.port or '-':>7}{pid or '-':>9}  {health}")
    return 1 if bad else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["up", "down", "status", "env"])
    parser.add_argument("services", nargs="*", help="services or groups (swift, mongo, airflow); default all")
    args = parser.parse_args(argv)
    try:
        if args.command == "up":
            cmd_up(args.services)
        elif args.command == "down":
            cmd_down(args.services)
        elif args.command == "status":
            return cmd_status(args.services)
        else:
            print(write_env_file())
    except StackError as exc:
        print(f"[stack] ERROR: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
