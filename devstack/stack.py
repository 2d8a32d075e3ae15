"""The local stack of real servers: `python devstack/stack.py up|down|status|env [SERVICE...]`.

`python devstack/stack.py browser` installs and checks the browser of the UI tests instead
(``devstack/browser.py``): no server, so no service of the stack.

Everything runs on 127.0.0.1 on explicit non-default ports, with data, logs and PID files under one
git-ignored folder (``.stack/`` in the checkout, or ``$DATALAKE_STACK_DIR``). Build caches (the Swift
virtual environment, the FerretDB binary, uv's wheels) live under ``~/.cache/datalake`` so a fresh clone
on the same machine builds nothing again. Each service is ready only when a real request answers: an
authenticated Swift HEAD, a MongoDB ping, ``pg_isready`` plus a query, Airflow's health endpoint.

This file is the command line and the orchestration: which services exist (in start order), the groups
that name several at once, and what each command does with them. Each service is a module of
``devstack/services/`` on the common base of ``devstack/service.py`` (install, configure, start, ready,
stop). They use only the standard library, plus pymongo and the neo4j driver for the MongoDB ping and the
Cypher query, so that the stack runs from the project's virtual environment before the package itself
matters.
"""

from __future__ import annotations

import argparse
import sys
import time

from browser import ensure_browser
from service import STACK, Service, StackError, log, secrets_file, write_env_file
from services.airflow import (
    AIRFLOW_COMPONENTS,
    CELERY_WORKERS,
    AirflowApiServer,
    AirflowComponent,
    CeleryWorker,
    check_executor,
    executor,
    forget_executor,
    stack_env,
)
from services.ferretdb import FerretDB
from services.influxdb import InfluxDB
from services.keystone import Keystone, SwiftProxyKeystone
from services.memcached import Memcached
from services.neo4j import Neo4j
from services.postgres import Postgres
from services.redis import Redis
from services.swift import STORAGE_KINDS, SwiftProxy, SwiftStorageServer


def services() -> dict[str, Service]:
    """Every service of this stack, in start order (Redis and the Celery workers with the celery executor)."""
    svc: list[Service] = [
        Memcached(),
        *(SwiftStorageServer(kind) for kind in STORAGE_KINDS),
        SwiftProxy(),
        Keystone(),
        SwiftProxyKeystone(),
        Postgres(),
        FerretDB(),
        InfluxDB(),
        Neo4j(),
        AirflowApiServer(),
        *(AirflowComponent(command, health_key) for command, health_key in AIRFLOW_COMPONENTS),
    ]
    if executor() == "celery":
        svc += [Redis(), *(CeleryWorker(name) for name in CELERY_WORKERS)]
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
    write_env_file(stack_env())
    for svc in select(names):
        svc.start()
    log(f"ready in {time.monotonic() - started:.1f}s; env file: {STACK / 'env'}")
    cmd_status(names)


def cmd_down(names: list[str]) -> None:
    stopped = [svc.name for svc in reversed(select(names, with_needs=False)) if svc.stop()]
    if not names:  # the whole stack is down
        forget_executor()
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
    parser.add_argument("command", choices=["up", "down", "status", "env", "browser"])
    parser.add_argument("services", nargs="*", help="services or groups (swift, mongo, airflow); default all")
    args = parser.parse_args(argv)
    try:
        if args.command == "up":
            cmd_up(args.services)
        elif args.command == "down":
            cmd_down(args.services)
        elif args.command == "status":
            return cmd_status(args.services)
        elif args.command == "browser":
            ensure_browser()
        else:
            print(write_env_file(stack_env()))
    except StackError as exc:
        print(f"[stack] ERROR: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
