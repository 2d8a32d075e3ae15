"""The local stack of real servers: `python devstack/stack.py up|down|status|env [SERVICE...]`.

Everything runs on 127.0.0.1 on explicit non-default ports, with data, logs and PID files under one
git-ignored folder (``.stack/`` in the checkout, or ``$DATALAKE_STACK_DIR``). Build caches (the Swift
virtual environment, the FerretDB binary, uv's wheels) live under ``~/.cache/datalake`` so a fresh clone
on the same machine starts in seconds. Each service is ready only when a real request answers: an
authenticated Swift HEAD, a MongoDB ping, ``pg_isready`` plus a query, Airflow's health endpoint.

This file uses only the standard library, plus pymongo and the neo4j driver for the MongoDB ping and the
Cypher query, so that it runs from the project's virtual environment before the package itself matters.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import envs  # devstack/envs.py: the locked Python environments

REPO = Path(__file__).resolve().parent.parent
STACK = Path(os.environ.get("DATALAKE_STACK_DIR", REPO / ".stack")).resolve()
CACHE = Path(os.environ.get("DATALAKE_CACHE_DIR", Path.home() / ".cache" / "datalake")).resolve()
VENV = Path(os.environ.get("DATALAKE_VENV", REPO / ".venv"))
HOST = "127.0.0.1"

SWIFT_VERSION = envs.pinned("swift", "swift")
KEYSTONE_VERSION = envs.pinned("keystone", "keystone")  # OpenStack Identity, for the Keystone v3 auth
FERRETDB_VERSION = "v1.24.2"
INFLUXDB_VERSION = "v1.8.3"

# A second stack (e.g. the stack's own tests) can run beside the first with DATALAKE_PORT_OFFSET.
PORT_OFFSET = int(os.environ.get("DATALAKE_PORT_OFFSET", "0"))
PORTS = {
    "memcached": 21211,
    "swift-object": 16010,
    "swift-container": 16011,
    "swift-account": 16012,
    "swift-proxy": 18080,  # TempAuth
    "swift-proxy-keystone": 18081,  # the same cluster behind Keystone v3 tokens
    "keystone": 15000,
    "ferretdb": 27018,
    "postgres": 15432,
    "airflow-api-server": 18280,
    "influxdb": 18086,  # HTTP: InfluxQL /query and the v2 API (/api/v2/write, Flux /api/v2/query)
    "influxdb-rpc": 18088,  # influxd's backup/restore RPC
    "neo4j": 17687,  # Bolt
    "redis": 16379,  # the Celery broker (DATALAKE_EXECUTOR=celery)
    "celery-worker-1-logs": 18793,  # each Celery worker's log server, for the UI's task logs
    "celery-worker-2-logs": 18794,
}
PORTS = {name: port + PORT_OFFSET for name, port in PORTS.items()}

# Each service's environment is its lock in devstack/locks/ (Swift's with keystonemiddleware, for its proxy
# behind Keystone), synced by devstack/envs.py.
SWIFT_VENV = envs.venv_path("swift")
KEYSTONE_VENV = envs.venv_path("keystone")
# Keyed on our main.go, go.mod and go.sum too: a change to either builds a new binary.
FERRETDB_SRC = REPO / "devstack" / "ferretdb"
FERRETDB_KEY = hashlib.sha256(
    b"".join((FERRETDB_SRC / name).read_bytes() for name in ("main.go", "go.mod", "go.sum"))
).hexdigest()[:12]
FERRETDB_BIN = CACHE / "bin" / f"ferretdb-{FERRETDB_VERSION}-{FERRETDB_KEY}"
INFLUXDB_BIN = CACHE / "bin" / f"influxd-{INFLUXDB_VERSION}"
RUN = STACK / "run"
LOGS = STACK / "logs"
EXECUTORS = ("local", "celery")
CELERY_WORKERS = ("celery-worker-1", "celery-worker-2")


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
        "influxdb_admin": 18,
        "neo4j": 18,
        "keystone_admin": 18,
        "keystone_swift": 18,
        "keystone_alice": 18,
        "redis": 18,
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
    cwd: Path | None = None  # default: the stack folder

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
                cwd=self.cwd or STACK,
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


def _venv_install(name: str, what: str) -> None:
    """A service's own virtual environment, made exactly its lock (nothing is resolved here)."""
    try:
        if envs.install(envs.ENVS[name], envs.venv_path(name)):
            log(f"installed {what} from {envs.ENVS[name].lock_name}")
    except envs.EnvError as exc:
        raise StackError(str(exc)) from exc


def install_swift() -> None:
    _venv_install("swift", f"OpenStack Swift {SWIFT_VERSION}")


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
        proxy_conf(
            PORTS["swift-proxy"],
            "tempauth",
            "[filter:tempauth]\nuse = egg:swift#tempauth\n"
            f"user_admin_admin = {pw['swift_admin']} .admin .reseller_admin\n"
            f"user_test_tester = {pw['swift_tester']} .admin\n",
            app_extra="allow_account_management = true\n",
        )
    )


# Swift's usual middleware, each from its egg under its own name.
_PROXY_FILTERS = ("catch_errors", "gatekeeper", "healthcheck", "proxy-logging", "listing_formats", "bulk")
_PROXY_FILTERS += ("tempurl", "slo", "dlo", "copy", "symlink")


def proxy_conf(port: int, auth: str, auth_sections: str, app_extra: str = "") -> str:
    """A proxy server's configuration: the usual pipeline with ``auth`` (its middleware names) in it."""
    pipeline = (
        "catch_errors gatekeeper healthcheck proxy-logging cache listing_formats bulk tempurl slo dlo "
        f"{auth} copy symlink proxy-logging proxy-server"
    )
    usual = "".join(f"[filter:{f}]\nuse = egg:swift#{f.replace('-', '_')}\n\n" for f in _PROXY_FILTERS)
    return (
        f"{swift_conf_common(port)}\n[pipeline:main]\npipeline = {pipeline}\n\n"
        f"[app:proxy-server]\nuse = egg:swift#proxy\naccount_autocreate = true\n{app_extra}\n"
        f"{auth_sections}\n"
        f"[filter:cache]\nuse = egg:swift#memcache\nmemcache_servers = {HOST}:{PORTS['memcached']}\n\n"
        f"{usual}"
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


# --------------------------------------------------------------------------- Keystone

KEYSTONE_DIR = STACK / "keystone"
KEYSTONE_URL = f"http://{HOST}:{PORTS['keystone']}/v3"
# What the stack's `swift_keystone` connection uses. The project and the user live in two different domains,
# and the object store is listed only on the internal interface of region toulouse-1, so a hook that dropped
# any of these settings would fail against it.
KEYSTONE_PROJECT = {"name": "datalake", "domain": "campus"}
KEYSTONE_USER = {"name": "alice", "domain": "ut3-staff"}
KEYSTONE_REGION, KEYSTONE_INTERFACE = "toulouse-1", "internal"


def keystone_manage(*args: str) -> None:
    conf = str(KEYSTONE_DIR / "keystone.conf")
    run([str(KEYSTONE_VENV / "bin" / "keystone-manage"), "--config-file", conf, *args])


def prepare_keystone() -> None:
    """Keystone in its own environment, with an SQLite database and Fernet keys in the stack folder."""
    _venv_install("keystone", f"OpenStack Keystone {KEYSTONE_VERSION}")
    KEYSTONE_DIR.mkdir(parents=True, exist_ok=True)
    (KEYSTONE_DIR / "keystone.conf").write_text(
        f"[DEFAULT]\nlog_file = {LOGS / 'keystone-app.log'}\n\n"
        f"[database]\nconnection = sqlite:///{KEYSTONE_DIR / 'keystone.db'}\n\n"
        "[token]\nprovider = fernet\nexpiration = 86400\n\n"
        f"[fernet_tokens]\nkey_repository = {KEYSTONE_DIR / 'fernet-keys'}\n\n"
        f"[credential]\nkey_repository = {KEYSTONE_DIR / 'credential-keys'}\n"
    )
    done = KEYSTONE_DIR / ".bootstrapped"
    if done.exists():
        return
    owner = ["--keystone-user", "root", "--keystone-group", "root"] if is_root() else []
    if not owner:
        owner = ["--keystone-user", os.environ.get("USER") or Path.home().name]
        owner += ["--keystone-group", owner[1]]
    log("setting up Keystone (database, keys, admin; about 30 s, first time only)")
    keystone_manage("db_sync")
    keystone_manage("fernet_setup", *owner)
    keystone_manage("credential_setup", *owner)
    admin = secrets_file()["keystone_admin"]
    keystone_manage(
        "bootstrap",
        "--bootstrap-password",
        admin,
        "--bootstrap-admin-url",
        KEYSTONE_URL,
        "--bootstrap-public-url",
        KEYSTONE_URL,
        "--bootstrap-internal-url",
        KEYSTONE_URL,
        "--bootstrap-region-id",
        KEYSTONE_REGION,
    )
    done.write_text(KEYSTONE_VERSION)


def keystone_argv() -> list[str]:
    script = REPO / "devstack" / "keystone" / "serve.py"
    conf = KEYSTONE_DIR / "keystone.conf"
    return [str(KEYSTONE_VENV / "bin" / "python"), str(script), str(conf), HOST, str(PORTS["keystone"])]


def keystone_ready() -> bool:
    return http_ok(KEYSTONE_URL)


def _keystone_call(method: str, path: str, token: str | None = None, body: dict | None = None) -> dict:
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Content-Type": "application/json", **({"X-Auth-Token": token} if token else {})}
    req = urllib.request.Request(KEYSTONE_URL + path, data=data, headers=headers, method=method)  # noqa: S310
    with urllib.request.urlopen(req, timeout=30) as resp:  # noqa: S310 (loopback)
        text = resp.read()
        answer = json.loads(text) if text else {}
        if path == "/auth/tokens" and method == "POST":
            answer["token_id"] = resp.headers["X-Subject-Token"]
        return answer


def keystone_auth(user: str, password: str, user_domain: str, project: str, project_domain: str) -> dict:
    """A project-scoped token: the answer's ``token`` (catalog included) and its id as ``token_id``."""
    scope = {"project": {"name": project, "domain": {"name": project_domain}}}
    ident = {"user": {"name": user, "password": password, "domain": {"name": user_domain}}}
    body = {"auth": {"identity": {"methods": ["password"], "password": ident}, "scope": scope}}
    return _keystone_call("POST", "/auth/tokens", body=body)


def provision_keystone() -> None:
    """The domains, project, users, roles and object-store endpoint the stack needs (idempotent)."""
    pw = secrets_file()
    token = keystone_auth("admin", pw["keystone_admin"], "Default", "admin", "Default")["token_id"]

    def one(kind: str, query: str, create: dict) -> str:
        found = _keystone_call("GET", f"/{kind}?{query}", token)[kind]
        if found:
            return str(found[0]["id"])
        return str(_keystone_call("POST", f"/{kind}", token, create)[kind[:-1]]["id"])

    def domain(name: str) -> str:
        return one("domains", f"name={name}", {"domain": {"name": name}})

    def role(name: str) -> str:
        return one("roles", f"name={name}", {"role": {"name": name}})

    def user(name: str, domain_id: str, password: str) -> str:
        user_id = one(
            "users",
            f"name={name}&domain_id={domain_id}",
            {"user": {"name": name, "domain_id": domain_id, "password": password}},
        )
        _keystone_call("PATCH", f"/users/{user_id}", token, {"user": {"password": password}})
        return user_id

    default = domain("Default")
    project = one(
        "projects",
        f"name={KEYSTONE_PROJECT['name']}&domain_id={domain(KEYSTONE_PROJECT['domain'])}",
        {"project": {"name": KEYSTONE_PROJECT["name"], "domain_id": domain(KEYSTONE_PROJECT["domain"])}},
    )
    service_project = one(
        "projects",
        f"name=service&domain_id={default}",
        {"project": {"name": "service", "domain_id": default}},
    )
    alice = user(KEYSTONE_USER["name"], domain(KEYSTONE_USER["domain"]), pw["keystone_alice"])
    swift = user("swift", default, pw["keystone_swift"])
    # alice may use her project's storage; the proxy's own user may validate the tokens it is shown.
    _keystone_call("PUT", f"/projects/{project}/users/{alice}/roles/{role('member')}", token)
    _keystone_call("PUT", f"/projects/{service_project}/users/{swift}/roles/{role('service')}", token)
    _keystone_call("PUT", f"/projects/{service_project}/users/{swift}/roles/{role('admin')}", token)
    service = one("services", "type=object-store", {"service": {"name": "swift", "type": "object-store"}})
    url = f"http://{HOST}:{PORTS['swift-proxy-keystone']}/v1/AUTH_%(project_id)s"
    endpoints = _keystone_call("GET", f"/endpoints?service_id={service}", token)["endpoints"]
    if not any(e["interface"] == KEYSTONE_INTERFACE and e["url"] == url for e in endpoints):
        for stale in endpoints:
            _keystone_call("DELETE", f"/endpoints/{stale['id']}", token)
        endpoint = {"service_id": service, "interface": KEYSTONE_INTERFACE, "url": url}
        _keystone_call("POST", "/endpoints", token, {"endpoint": {**endpoint, "region_id": KEYSTONE_REGION}})


def prepare_swift_keystone() -> None:
    """A second proxy on the same rings and storage servers, taking Keystone tokens (authtoken +
    keystoneauth, as an OpenStack cloud runs it), so the hook's Keystone v3 path runs for real."""
    prepare_swift()
    provision_keystone()
    pw = secrets_file()
    etc = SWIFT_DIR / "etc"
    (etc / "proxy-keystone-server.conf").write_text(
        proxy_conf(
            PORTS["swift-proxy-keystone"],
            "authtoken keystoneauth",
            "[filter:authtoken]\npaste.filter_factory = keystonemiddleware.auth_token:filter_factory\n"
            f"www_authenticate_uri = {KEYSTONE_URL}\nauth_url = {KEYSTONE_URL}\nauth_type = password\n"
            "project_domain_name = Default\nuser_domain_name = Default\nproject_name = service\n"
            f"username = swift\npassword = {pw['keystone_swift']}\ndelay_auth_decision = True\n"
            "cache = swift.cache\n\n"
            "[filter:keystoneauth]\nuse = egg:swift#keystoneauth\noperator_roles = admin, member\n",
        )
    )


def swift_keystone_ready() -> bool:
    """alice's token opens her project's account: Keystone, authtoken and keystoneauth all answered."""
    pw = secrets_file()
    user, project = KEYSTONE_USER, KEYSTONE_PROJECT
    password = pw["keystone_alice"]
    answer = keystone_auth(user["name"], password, user["domain"], project["name"], project["domain"])
    (store,) = [entry for entry in answer["token"]["catalog"] if entry["type"] == "object-store"]
    (url,) = [e["url"] for e in store["endpoints"] if e["interface"] == KEYSTONE_INTERFACE]
    return http_ok(url, {"X-Auth-Token": answer["token_id"]}, method="HEAD")


# --------------------------------------------------------------------------- FerretDB


def go_env() -> dict[str, str]:
    """Pure-Go builds with the machine's own toolchain (never one downloaded for a go.mod's `toolchain`
    line); every module is checked against go.sum."""
    return {**os.environ, "CGO_ENABLED": "0", "GOTOOLCHAIN": "local"}


def install_ferretdb() -> None:
    """Build FerretDB from the Go module proxy through our small main (cached binary, per version)."""
    if FERRETDB_BIN.exists():
        return
    if not shutil.which("go"):
        raise StackError("FerretDB needs Go to build (https://go.dev); `go` is not on PATH")
    log(f"building FerretDB {FERRETDB_VERSION} (first time only, about 2 minutes)")
    FERRETDB_BIN.parent.mkdir(parents=True, exist_ok=True)
    tmp = FERRETDB_BIN.with_suffix(".tmp")
    run(["go", "build", "-trimpath", "-mod=readonly", "-o", str(tmp), "."], cwd=FERRETDB_SRC, env=go_env())
    tmp.rename(FERRETDB_BIN)


def mongo_ping() -> bool:
    import pymongo

    # Bounded reads too: a server that accepts and never answers must not hang `up` or `status`.
    client = pymongo.MongoClient(HOST, PORTS["ferretdb"], serverSelectionTimeoutMS=1500, socketTimeoutMS=5000)
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
    """Roles and databases for Airflow's metadata and the gold zone (idempotent)."""
    pw = secrets_file()
    for role, db, secret in (
        ("airflow", "airflow", "airflow_db"),
        ("datalake", "datalake", "datalake_db"),
    ):
        # Names are our constants; the password is URL-safe base64 (no quote can appear in it).
        if psql(f"select 1 from pg_roles where rolname = '{role}'") != "1":  # noqa: S608
            psql(f"create role {role} login password '{pw[secret]}'")
        if psql(f"select 1 from pg_database where datname = '{db}'") != "1":  # noqa: S608
            psql(f"create database {db} owner {role}")


# --------------------------------------------------------------------------- InfluxDB

INFLUX_DIR = STACK / "influxdb"
INFLUX_ADMIN = "admin"
INFLUX_DATABASE = "datalake"
# InfluxDB 1.8's v2 compatibility API: the token is "user:password", the org is ignored and a bucket is
# "database/retention-policy".
INFLUX_BUCKET = f"{INFLUX_DATABASE}/autogen"


class InfluxError(RuntimeError):
    """InfluxDB answered, with an error."""


def install_influxdb() -> None:
    """Build influxd from the Go module proxy (pure Go: Flux without the libflux tag), cached per version."""
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


def prepare_influxdb() -> None:
    """Write influxd's configuration (every start, like Swift's): loopback only, auth on, Flux on, quiet."""
    install_influxdb()
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


def influxdb_ready() -> bool:
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


# --------------------------------------------------------------------------- Neo4j

NEO4J_SRC = REPO / "devstack" / "neo4j"
NEO4J_LAUNCHER = NEO4J_SRC / "src" / "org" / "neocampus" / "datalake" / "devstack" / "Launcher.java"
NEO4J_VERSION = re.search(r"<neo4j.version>([^<]+)<", (NEO4J_SRC / "pom.xml").read_text()).group(1)
# Called by its full coordinates, so Maven looks up no plugin prefix nor a newest version.
DEPENDENCY_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:" + (
    re.search(r"<dependency-plugin.version>([^<]+)<", (NEO4J_SRC / "pom.xml").read_text()).group(1)
)
# Keyed on our pom.xml and launcher: a change to either resolves and compiles again.
NEO4J_KEY = hashlib.sha256((NEO4J_SRC / "pom.xml").read_bytes() + NEO4J_LAUNCHER.read_bytes()).hexdigest()
NEO4J_BUILD = CACHE / f"neo4j-{NEO4J_VERSION}-{NEO4J_KEY[:12]}"
NEO4J_HEAP = "1g"  # bounded; the gold zone loads batches of thousands of nodes


def java_major(java: str) -> int:
    out = run([java, "-version"]).stderr  # e.g. openjdk version "17.0.15" 2025-04-15
    found = re.search(r'version "(\d+)(?:\.(\d+))?', out)
    if not found:
        raise StackError(f"cannot read the Java version from `{java} -version`:\n{out}")
    major = int(found.group(1))
    return int(found.group(2) or 0) if major == 1 else major


def install_neo4j() -> None:
    """Neo4j Community jars from Maven Central (Maven resolves the classpath) plus our launcher, javac'd."""
    if (NEO4J_BUILD / ".complete").exists():
        return
    if not all(shutil.which(tool) for tool in ("java", "javac", "mvn")):
        apt_install("openjdk-17-jdk-headless", "maven")  # or says what to install, and stops
    java, javac, mvn = (shutil.which(tool) for tool in ("java", "javac", "mvn"))
    if not (java and javac and mvn):
        raise StackError("Neo4j needs a JDK 17 or 21 (java, javac) and Maven (mvn) on PATH")
    if java_major(java) not in (17, 21):
        raise StackError(f"Neo4j {NEO4J_VERSION} runs on Java 17 or 21, not {java_major(java)} ({java})")
    log(f"resolving Neo4j {NEO4J_VERSION} from Maven Central and compiling our launcher (first time only)")
    shutil.rmtree(NEO4J_BUILD, ignore_errors=True)
    (NEO4J_BUILD / "classes").mkdir(parents=True)
    classpath = NEO4J_BUILD / "classpath.txt"
    run(
        [
            mvn,
            "-B",
            "-q",
            f"-Dmaven.repo.local={CACHE / 'm2'}",
            "-f",
            str(NEO4J_SRC / "pom.xml"),
            f"{DEPENDENCY_PLUGIN}:build-classpath",
            f"-Dmdep.outputFile={classpath}",
        ]
    )
    run(
        [
            javac,
            "--release",
            "17",
            "-nowarn",
            "-d",
            str(NEO4J_BUILD / "classes"),
            "-cp",
            classpath.read_text().strip(),
            str(NEO4J_LAUNCHER),
        ]
    )
    (NEO4J_BUILD / ".complete").write_text(NEO4J_VERSION)


def neo4j_argv() -> list[str]:
    classpath = f"{NEO4J_BUILD / 'classes'}:{(NEO4J_BUILD / 'classpath.txt').read_text().strip()}"
    return [
        shutil.which("java") or "java",
        f"-Xms{NEO4J_HEAP}",
        f"-Xmx{NEO4J_HEAP}",
        "-XX:+UseG1GC",
        "-XX:-OmitStackTraceInFastThrow",
        "-XX:+ExitOnOutOfMemoryError",
        "-Djdk.nio.maxCachedBufferSize=1024",
        "-Dio.netty.tryReflectionSetAccessible=true",
        # What Neo4j's own start script opens, so its page cache and Netty take their fast paths.
        "--add-opens=java.base/java.nio=ALL-UNNAMED",
        "--add-opens=java.base/java.io=ALL-UNNAMED",
        "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED",
        "--add-opens=java.base/java.lang=ALL-UNNAMED",
        "-cp",
        classpath,
        "org.neocampus.datalake.devstack.Launcher",
        str(STACK / "neo4j"),
        HOST,
        str(PORTS["neo4j"]),
    ]


def neo4j_env() -> dict[str, str]:
    """User neo4j's password for the launcher: initial at first start, set again later (never in argv)."""
    return {"NEO4J_PASSWORD": secrets_file()["neo4j"]}


def import_neo4j_driver():
    """The neo4j driver, imported without numpy, pandas and pyarrow.

    It imports them when installed (for its DataFrame export): 1.5 s of a warm `stack up` that only
    runs `RETURN 1`. They are hidden during the import only, so this process can still import them.
    """
    if "neo4j" in sys.modules:
        return sys.modules["neo4j"]
    hidden = [name for name in ("numpy", "pandas", "pyarrow") if name not in sys.modules]
    sys.modules.update(dict.fromkeys(hidden))  # None: `import pandas` raises ImportError
    try:
        import neo4j
    finally:
        for name in hidden:
            if sys.modules.get(name, False) is None:
                del sys.modules[name]
    return neo4j


def neo4j_ready() -> bool:
    """A Cypher query answers over Bolt, authenticated (one try: `execute_query` would retry for 30 s)."""
    if not port_open(PORTS["neo4j"]):
        return False
    neo4j = import_neo4j_driver()
    url, auth = f"bolt://{HOST}:{PORTS['neo4j']}", ("neo4j", secrets_file()["neo4j"])
    # The driver bounds only the TCP connect; its sockets then read with the default timeout (None: a
    # stalled server would hang `up` and `status` for ever). Sockets made meanwhile keep these 5 s.
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(5)
    try:
        timeouts = {"connection_timeout": 2, "connection_acquisition_timeout": 5}
        driver = neo4j.GraphDatabase.driver(url, auth=auth, **timeouts)
        with driver, driver.session() as session:
            return session.run("RETURN 1 AS one").single()["one"] == 1
    finally:
        socket.setdefaulttimeout(previous)


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
        **executor_env(pw),
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


def executor() -> str:
    """The stack's executor: `DATALAKE_EXECUTOR` (local or celery) when set, else the one this stack folder
    was started with, else local. `up` records it; a change needs `make stack-down` first (`check_executor`).
    """
    wanted = os.environ.get("DATALAKE_EXECUTOR", "").strip().lower()
    recorded = STACK / "executor"
    if not wanted:
        wanted = recorded.read_text().strip() if recorded.exists() else "local"
    if wanted not in EXECUTORS:
        raise StackError(f"DATALAKE_EXECUTOR={wanted!r}: expected one of {', '.join(EXECUTORS)}")
    return wanted


def check_executor() -> None:
    """Record the executor for this stack folder; refuse to switch while Airflow runs on the other one."""
    recorded = STACK / "executor"
    now = executor()
    before = recorded.read_text().strip() if recorded.exists() else None
    if before and before != now and services()["airflow-scheduler"].pid() is not None:
        raise StackError(
            f"the stack's Airflow runs on the {before} executor: `make stack-down` first, then start it with "
            f"DATALAKE_EXECUTOR={now}"
        )
    recorded.write_text(now + "\n")


def executor_env(pw: dict[str, str]) -> dict[str, str]:
    """Airflow's executor settings. Celery: Redis as the broker, the metadata database as the result backend,
    two tasks at a time per worker (two workers: the same parallelism as LocalExecutor's four)."""
    if executor() == "local":
        return {"AIRFLOW__CORE__EXECUTOR": "LocalExecutor"}
    db = f"airflow:{pw['airflow_db']}@{HOST}:{PORTS['postgres']}/airflow"
    return {
        "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
        "AIRFLOW__CELERY__BROKER_URL": f"redis://:{pw['redis']}@{HOST}:{PORTS['redis']}/0",
        "AIRFLOW__CELERY__RESULT_BACKEND": f"db+postgresql://{db}",
        "AIRFLOW__CELERY__WORKER_CONCURRENCY": "2",
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


def install_redis() -> None:
    if not shutil.which("redis-server"):
        apt_install("redis-server")


def redis_argv() -> list[str]:
    """Debian's redis-server on loopback, password from the stack's secrets, nothing written to disk."""
    return [
        shutil.which("redis-server") or "redis-server",
        "--bind",
        HOST,
        "--port",
        str(PORTS["redis"]),
        "--requirepass",
        secrets_file()["redis"],
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        str(STACK),
    ]


def redis_ready() -> bool:
    """A real answer: PING with the password, over the wire protocol (no client library needed)."""
    with socket.create_connection((HOST, PORTS["redis"]), timeout=2) as conn:
        password = secrets_file()["redis"].encode()
        conn.sendall(b"*2\r\n$4\r\nAUTH\r\n$%d\r\n%s\r\n*1\r\n$4\r\nPING\r\n" % (len(password), password))
        answer = b""
        while answer.count(b"\r\n") < 2:
            chunk = conn.recv(64)
            if not chunk:
                break
            answer += chunk
    return answer == b"+OK\r\n+PONG\r\n"


def celery_worker(name: str) -> Service:
    """One Celery worker: its own hostname, working folder (its tasks' cwd and TMPDIR) and log server port,
    as two machines would have."""
    home = STACK / name

    def env() -> dict[str, str]:
        return {
            **stack_env(),
            "TMPDIR": str(home / "tmp"),
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(PORTS[f"{name}-logs"]),
        }

    def prepare() -> None:
        (home / "tmp").mkdir(parents=True, exist_ok=True)

    worker = Service(
        name,
        None,
        lambda: [airflow_bin(), "celery", "worker", "--celery-hostname", f"{name}@%h", "--concurrency", "2"],
        lambda: False,
        prepare=prepare,
        env=env,
        cwd=home,
        start_timeout=180,
        needs=["redis", "airflow-api-server"],
    )

    def ready() -> bool:
        """Celery says "<name>@<host> ready." once connected to the broker and consuming; only a line after
        its last start banner counts (the log is appended to across restarts, and grows with every task)."""
        try:
            text = worker.log_path.read_text(errors="replace")
        except OSError:
            return False
        since = text[text.rfind(f"-------------- {name}@") :]
        return re.search(rf"{re.escape(name)}@\S+ ready\.", since) is not None

    worker.ready = ready
    return worker


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
    # A stuck server fails an operation after socketTimeoutMS instead of hanging its caller forever.
    mongo_extra = {
        "srv": False,
        "ssl": False,
        "serverSelectionTimeoutMS": 5000,
        "connectTimeoutMS": 3000,
        "socketTimeoutMS": 60000,
    }
    return {
        "swift_default": {
            "conn_type": "swift",
            "host": HOST,
            "port": PORTS["swift-proxy"],
            "login": "test:tester",
            "password": pw["swift_tester"],
            # TempAuth v1 is the hook's default: no `auth_version` extra (Airflow masks every string of a
            # connection's extra, and warns on stdout about each one too short to mask, like "1.0").
        },
        # The same Swift cluster through Keystone v3 (see KEYSTONE_PROJECT): the hook's other auth path.
        "swift_keystone": {
            "conn_type": "swift",
            "host": HOST,
            "port": PORTS["keystone"],
            "login": KEYSTONE_USER["name"],
            "password": pw["keystone_alice"],
            "extra": {
                "auth_version": 3,  # a number: Airflow masks extra strings, and warns on short ones
                "project_name": KEYSTONE_PROJECT["name"],
                "project_domain_name": KEYSTONE_PROJECT["domain"],
                "user_domain_name": KEYSTONE_USER["domain"],
                "region_name": KEYSTONE_REGION,
                "interface": KEYSTONE_INTERFACE,
            },
        },
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
        "postgres_default": {
            "conn_type": "postgres",
            "host": HOST,
            "port": PORTS["postgres"],
            "login": "datalake",
            "password": pw["datalake_db"],
            "schema": "datalake",
        },
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
        # The official Neo4jHook: bolt://host:port (no neo4j_scheme, no TLS on loopback); schema = database.
        "neo4j_default": {
            "conn_type": "neo4j",
            "host": HOST,
            "port": PORTS["neo4j"],
            "login": "neo4j",
            "password": pw["neo4j"],
            "schema": "neo4j",
            "extra": {"encrypted": False},
        },
    }


def stack_env() -> dict[str, str]:
    env = {
        "DATALAKE_STACK_DIR": str(STACK),
        "DATALAKE_SWIFT_BIN": str(SWIFT_VENV / "bin"),
        "DATALAKE_PG_SOCKET": str(PG_SOCK),
        "DATALAKE_INFLUX_BUCKET": INFLUX_BUCKET,
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
            "keystone",
            PORTS["keystone"],
            keystone_argv,
            keystone_ready,
            prepare=prepare_keystone,
            start_timeout=90,
        ),
        Service(
            "swift-proxy-keystone",
            PORTS["swift-proxy-keystone"],
            lambda: [swift_bin("swift-proxy-server"), conf("proxy-keystone"), "-v"],
            swift_keystone_ready,
            prepare=prepare_swift_keystone,
            start_timeout=60,
            needs=["keystone", "memcached", "swift-object", "swift-container", "swift-account"],
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
            lambda: [
                str(FERRETDB_BIN),
                "-listen",
                f"{HOST}:{PORTS['ferretdb']}",
                "-data",
                str(STACK / "ferretdb"),
            ],
            mongo_ping,
            prepare=install_ferretdb,
            start_timeout=30,
        ),
        Service(
            "influxdb",
            PORTS["influxdb"],
            lambda: [str(INFLUXDB_BIN), "run", "-config", str(INFLUX_DIR / "influxdb.conf")],
            influxdb_ready,
            prepare=prepare_influxdb,
            start_timeout=60,
        ),
        Service(
            "neo4j",
            PORTS["neo4j"],
            neo4j_argv,
            neo4j_ready,
            prepare=install_neo4j,
            env=neo4j_env,
            start_timeout=120,
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
    if executor() == "celery":
        svc.append(
            Service("redis", PORTS["redis"], redis_argv, redis_ready, prepare=install_redis, start_timeout=30)
        )
        svc += [celery_worker(name) for name in CELERY_WORKERS]
    return {s.name: s for s in svc}


GROUPS = {
    "swift": ["memcached", "swift-object", "swift-container", "swift-account", "swift-proxy"],
    "keystone": ["keystone", "swift-proxy-keystone"],
    "mongo": ["ferretdb"],
    "gold": ["postgres", "influxdb", "ferretdb", "neo4j"],
    "airflow": ["airflow-api-server", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer"],
    "celery": ["redis", *CELERY_WORKERS],  # with DATALAKE_EXECUTOR=celery only
}


def select(names: list[str], with_needs: bool = True) -> list[Service]:
    """Services named (or in named groups), plus what they need (when starting), in start order."""
    all_svc = services()
    wanted: set[str] = set()
    for name in names or list(all_svc):
        members = GROUPS.get(name, [name])
        if name == "airflow":
            members = [*members, *(m for m in GROUPS["celery"] if m in all_svc)]
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
    check_executor()
    write_env_file()
    for svc in select(names):
        svc.start()
        if svc.name == "postgres":
            ensure_databases()
    log(f"ready in {time.monotonic() - started:.1f}s; env file: {STACK / 'env'}")
    cmd_status(names)


def cmd_down(names: list[str]) -> None:
    stopped = [svc.name for svc in reversed(select(names, with_needs=False)) if svc.stop()]
    if not names:  # the whole stack is down: the next `up` takes DATALAKE_EXECUTOR (default local) afresh
        (STACK / "executor").unlink(missing_ok=True)
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
