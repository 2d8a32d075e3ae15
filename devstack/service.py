"""What every service of the local stack shares: its place on disk and on the network, and its life cycle.

A service is a subclass of :class:`Service` in ``devstack/services/``, one module per server. Its life cycle:

- ``install()``: what it runs from (a Debian package, a locked virtual environment, a binary built once
  into ``~/.cache/datalake``); idempotent and cached;
- ``configure()``: its configuration files and data folders in the stack folder, and any first-time set-up;
- ``start()``: installs, configures and launches ``argv()`` in its own session, records the PID (with the
  process's start time, so a reused PID is never mistaken for ours) and waits until ``ready()``;
- ``ready()``: a real request answers (an authenticated query, not only an open port);
- ``stop()``: ends the whole session it started (SIGTERM, then SIGKILL), found by its PID file only.

Placement: the stack folder (``.stack/`` in the checkout, or ``$DATALAKE_STACK_DIR``) holds data, logs, PID
files, secrets and the env file; every port is its default plus ``$DATALAKE_PORT_OFFSET``, so a second stack
runs beside the first. Standard library only: the stack runs before the project's environment matters.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import envs  # devstack/envs.py: the locked Python environments

REPO = Path(__file__).resolve().parent.parent
STACK = Path(os.environ.get("DATALAKE_STACK_DIR", REPO / ".stack")).resolve()
CACHE = Path(os.environ.get("DATALAKE_CACHE_DIR", Path.home() / ".cache" / "datalake")).resolve()
HOST = "127.0.0.1"
RUN = STACK / "run"
LOGS = STACK / "logs"

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
    "airflow-logs": 18791,  # LocalExecutor's log server (in the scheduler), for the UI's task logs
    "airflow-trigger-logs": 18792,  # the triggerer's log server
    "celery-worker-1-logs": 18793,  # each Celery worker's log server, for the UI's task logs
    "celery-worker-2-logs": 18794,
}
PORTS = {name: port + PORT_OFFSET for name, port in PORTS.items()}


class StackError(RuntimeError):
    """A service could not be installed, started or reached; the message says which and why."""


class ExitedDuringStartUp(StackError):
    """The process we waited on for readiness is gone."""


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


def os_user() -> str:
    """The OS user the stack runs as (the name servers are told to run as)."""
    return "root" if is_root() else os.environ.get("USER") or Path.home().name


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


def venv_install(name: str, what: str) -> None:
    """A service's own virtual environment, made exactly its lock (nothing is resolved here)."""
    try:
        if envs.install(envs.ENVS[name], envs.venv_path(name)):
            log(f"installed {what} from {envs.ENVS[name].lock_name}")
    except envs.EnvError as exc:
        raise StackError(str(exc)) from exc


def go_env() -> dict[str, str]:
    """Pure-Go builds with the machine's own toolchain (never one downloaded for a go.mod's `toolchain`
    line); every module is checked against go.sum."""
    return {**os.environ, "CGO_ENABLED": "0", "GOTOOLCHAIN": "local"}


def new_secret(nbytes: int) -> str:
    """A URL-safe random password that never starts with ``-``: a command line would take it for an option."""
    return "s" + secrets.token_urlsafe(nbytes)


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
        "airflow_operator": 12,
        "airflow_viewer": 12,
        "influxdb_admin": 18,
        "neo4j": 18,
        "keystone_admin": 18,
        "keystone_swift": 18,
        "keystone_alice": 18,
        "redis": 18,
    }
    missing = {key: new_secret(n) for key, n in wanted.items() if key not in values}
    if not missing:
        return values
    values.update(missing)  # a folder without some service's secret gains it; the others stay as they are
    STACK.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(values, indent=2))
    path.chmod(0o600)
    return values


def port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.3)
        return s.connect_ex((HOST, port)) == 0


def http_ok(url: str, headers: dict[str, str] | None = None, method: str = "GET") -> bool:
    req = urllib.request.Request(url, headers=headers or {}, method=method)  # noqa: S310 (loopback)
    with urllib.request.urlopen(req, timeout=3) as resp:  # noqa: S310
        return 200 <= resp.status < 300


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
            raise ExitedDuringStartUp(
                f"{what} exited during start-up; see {proc.log_path}\n{proc.tail_log()}"
            )
        time.sleep(0.3)
    detail = f"\n{proc.tail_log()}" if proc else ""
    raise StackError(f"{what} not ready after {timeout:.0f}s ({last_error or 'no answer'}){detail}")


def write_env_file(env: dict[str, str]) -> Path:
    """``.stack/env``: one ``export KEY='value'`` line per setting, readable by the stack's user only."""
    path = STACK / "env"
    lines = ["# Written by `make stack-up`: source it (`. .stack/env`) to use the local stack."]
    for key, value in env.items():
        quoted = "'" + value.replace("'", "'\"'\"'") + "'"
        lines.append(f"export {key}={quoted}")
    path.write_text("\n".join(lines) + "\n")
    path.chmod(0o600)
    return path


# --------------------------------------------------------------------------- the base


class Service:
    """One long-running process of ours: started in its own session, known by its PID file.

    A subclass sets ``name`` (and ``port`` when it listens), and defines ``argv`` and ``ready``; it overrides
    ``install``, ``configure``, ``env`` or ``cwd`` when it needs them. ``needs`` names the services that
    `up` starts before it.
    """

    name: str
    port: int | None = None
    user: str | None = None  # the OS user to run as, when the stack runs as root
    start_timeout: float = 60
    needs: tuple[str, ...] = ()

    def install(self) -> None:
        """Make what the service runs from available (idempotent, cached across stack folders)."""

    def configure(self) -> None:
        """Write its configuration and data folders under the stack folder (idempotent)."""

    def argv(self) -> list[str]:
        raise NotImplementedError

    def env(self) -> dict[str, str]:
        """Variables added to the stack's own environment for the process."""
        return {}

    def cwd(self) -> Path:
        return STACK

    def ready(self) -> bool:
        """True once a real request answers; may raise while the server is starting."""
        raise NotImplementedError

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
        """Start the service unless ours already runs, then wait until it is ready.

        One of ours that runs but is on its way out (Airflow's scheduler giving up once its database went
        away) is waited on; when it exits, a new one is started, as a supervisor would.
        """
        if self.pid() is not None:
            try:
                wait_until(self.name, self.ready, self.start_timeout, self)
                return
            except ExitedDuringStartUp:
                log(f"{self.name} exited while it was starting; starting it again")
        if self.port is not None and port_open(self.port):
            raise StackError(
                f"port {self.port} for {self.name} is taken by a process that is not ours; "
                f"stop it or set another port"
            )
        self.install()
        self.configure()
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
                cwd=self.cwd(),
                env={**os.environ, **self.env()},
                user=self.user if is_root() else None,
            )
        stamp = Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
        self.pid_path.write_text(f"{proc.pid} {stamp}\n")
        wait_until(self.name, self.ready, self.start_timeout, self)

    def stop(self) -> bool:
        """Stop the process group we started; False when none of ours was running."""
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
