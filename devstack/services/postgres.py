"""PostgreSQL (Debian's server binaries): Airflow's metadata database and the gold zone's default store.

The cluster lives in the stack folder; as root it is owned and run by the OS user ``postgres`` (PostgreSQL
refuses root). Its roles and databases are checked at every `up`, once the server answers.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from service import HOST, PORTS, STACK, Service, StackError, apt_install, is_root, log, run, secrets_file

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


class Postgres(Service):
    name = "postgres"
    port = PORTS["postgres"]
    user = PG_USER
    start_timeout = 60

    def configure(self) -> None:
        """initdb once per stack folder, with the superuser's password from the stack's secrets."""
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

    def argv(self) -> list[str]:
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

    def ready(self) -> bool:
        ok = subprocess.run(
            [str(pg_bindir() / "pg_isready"), "-h", HOST, "-p", str(PORTS["postgres"]), "-q"], check=False
        )
        return ok.returncode == 0 and psql("select 1") == "1"

    def start(self) -> None:
        """Start (or find running) the server, then make sure Airflow's and the gold zone's databases
        exist."""
        super().start()
        ensure_databases()


def connections() -> dict[str, dict]:
    pw = secrets_file()
    return {
        "postgres_default": {
            "conn_type": "postgres",
            "host": HOST,
            "port": PORTS["postgres"],
            "login": "datalake",
            "password": pw["datalake_db"],
            "schema": "datalake",
        },
    }
