"""Airflow's processes (API server, scheduler, DAG processor, triggerer, Celery workers), their environment.

Airflow runs from the project's virtual environment (``make install``), on the stack's PostgreSQL, with the
local executor or, with DATALAKE_EXECUTOR=celery, Redis and two Celery workers. The environment its processes
run with (its settings plus one connection per store of the stack) is also the stack's env file, so tests
and the command line see the stack exactly as Airflow does.
"""

from __future__ import annotations

import json
import os
import re
import urllib.request
from pathlib import Path

from service import HOST, PORTS, REPO, STACK, Service, StackError, log, run, secrets_file

from services import ferretdb, influxdb, keystone, neo4j, postgres, swift

VENV = Path(os.environ.get("DATALAKE_VENV", REPO / ".venv"))
AIRFLOW_HOME = STACK / "airflow"
EXECUTORS = ("local", "celery")
CELERY_WORKERS = ("celery-worker-1", "celery-worker-2")


def airflow_bin() -> str:
    path = VENV / "bin" / "airflow"
    if not path.exists():
        raise StackError(f"{path} missing: run `make install` first (installs Airflow and this provider)")
    return str(path)


# --------------------------------------------------------------------------- the executor


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
    wanted = executor()
    before = recorded.read_text().strip() if recorded.exists() else None
    if before and before != wanted and AirflowComponent("scheduler", "scheduler").pid() is not None:
        raise StackError(
            f"the stack's Airflow runs on the {before} executor: `make stack-down` first, then start it with "
            f"DATALAKE_EXECUTOR={wanted}"
        )
    recorded.write_text(wanted + "\n")


def forget_executor() -> None:
    """With the whole stack down, the next `up` takes DATALAKE_EXECUTOR (default local) afresh."""
    (STACK / "executor").unlink(missing_ok=True)


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


# --------------------------------------------------------------------------- the environment (the env file)


# Login -> role of Airflow's Simple auth manager: admin does everything, op writes to the lake (upload,
# push, approve, reprocess), viewer reads it.
AIRFLOW_USERS = {"admin": "admin", "operator": "op", "viewer": "viewer"}
PASSWORDS_FILE = AIRFLOW_HOME / "passwords.json"


def write_passwords() -> None:
    """The Simple auth manager's password file (mode 0600), from the stack's secrets: the logins are known
    before Airflow starts, and tests and the demo read them from the env file."""
    pw = secrets_file()
    AIRFLOW_HOME.mkdir(parents=True, exist_ok=True)
    PASSWORDS_FILE.touch(mode=0o600)
    PASSWORDS_FILE.chmod(0o600)
    PASSWORDS_FILE.write_text(json.dumps({user: pw[f"airflow_{user}"] for user in AIRFLOW_USERS}))


def login_env() -> dict[str, str]:
    """``DATALAKE_AIRFLOW_<USER>_PASSWORD`` for each login of the stack's Airflow."""
    pw = secrets_file()
    return {f"DATALAKE_AIRFLOW_{user.upper()}_PASSWORD": pw[f"airflow_{user}"] for user in AIRFLOW_USERS}


def airflow_env() -> dict[str, str]:
    """The Airflow settings of the stack."""
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
        # Airflow's Simple auth manager with one login per role the plugin tells apart (reading the lake;
        # writing to it), passwords from the stack's secrets (`AIRFLOW_USERS`, `write_passwords`).
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": ",".join(f"{u}:{r}" for u, r in AIRFLOW_USERS.items()),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(PASSWORDS_FILE),
        # The plugin's upload limit: above the 1 GiB the upload benchmark sends.
        "AIRFLOW__DATALAKE__UPLOAD_MAX_BYTES": str(1_200_000_000),
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
        # A task whose worker died (an OOM kill, a lost Celery node) holds its run's slot until the scheduler
        # sees its heartbeats stop: 300 s by default, while the lease sweep has long since put its objects
        # back to committed, so with both of a format's runs (max_active_runs) on a lost worker nothing ran.
        "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "60",
        # A scheduler that was SIGKILLed (an OOM kill, a lost node) leaves its running tasks to the one that
        # replaces it, which takes them only at its orphan check: every 300 s by default, and the first at
        # start, too soon to see the dead one's heartbeat stop. Until then they hold their runs' slots.
        "AIRFLOW__SCHEDULER__ORPHANED_TASKS_CHECK_INTERVAL": "30",
        "AIRFLOW__TRIGGERER__CAPACITY": "200",
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(AIRFLOW_HOME / "logs"),
        # Airflow's own defaults (8793, 8794) would collide with a second stack's.
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(PORTS["airflow-logs"]),
        "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(PORTS["airflow-trigger-logs"]),
    }


def connections() -> dict[str, dict]:
    """One Airflow connection per store of the stack, as each service module declares it."""
    return {
        **swift.connections(),
        **keystone.connections(),
        **ferretdb.connections(),
        **postgres.connections(),
        **influxdb.connections(),
        **neo4j.connections(),
    }


def stack_env() -> dict[str, str]:
    """What Airflow's processes run with, and what the env file exports."""
    env = {
        "DATALAKE_STACK_DIR": str(STACK),
        "DATALAKE_SWIFT_BIN": str(swift.SWIFT_VENV / "bin"),
        "DATALAKE_PG_SOCKET": str(postgres.PG_SOCK),
        "DATALAKE_INFLUX_BUCKET": influxdb.INFLUX_BUCKET,
        **login_env(),
        **swift.s3_env(),
        **airflow_env(),
    }
    for conn_id, conn in connections().items():
        env[f"AIRFLOW_CONN_{conn_id.upper()}"] = json.dumps(conn, separators=(",", ":"))
    return env


# --------------------------------------------------------------------------- the processes


def api_health() -> dict:
    url = f"http://{HOST}:{PORTS['airflow-api-server']}/api/v2/monitor/health"
    with urllib.request.urlopen(url, timeout=3) as resp:
        return json.loads(resp.read())


class AirflowProcess(Service):
    """An Airflow command run from the project's environment, with the stack's environment."""

    start_timeout = 180

    def env(self) -> dict[str, str]:
        return stack_env()


class AirflowApiServer(AirflowProcess):
    name = "airflow-api-server"
    port = PORTS["airflow-api-server"]
    needs = ("postgres",)

    def configure(self) -> None:
        """Create the metadata schema once; `db migrate` is idempotent but slow, so a marker skips it."""
        (AIRFLOW_HOME / "dags").mkdir(parents=True, exist_ok=True)
        write_passwords()
        marker = AIRFLOW_HOME / ".migrated"
        if marker.exists():
            return
        log("airflow db migrate (first time only)")
        run([airflow_bin(), "db", "migrate"], env={**os.environ, **stack_env()})
        marker.write_text("ok")

    def argv(self) -> list[str]:
        return [airflow_bin(), "api-server"]

    def ready(self) -> bool:
        return api_health().get("metadatabase", {}).get("status") == "healthy"


class AirflowComponent(AirflowProcess):
    """The scheduler, DAG processor or triggerer: ready once the API server reports its heartbeat (it is
    then truly working)."""

    needs = ("airflow-api-server",)

    def __init__(self, command: str, health_key: str) -> None:
        self.name = f"airflow-{command}"
        self.command = command
        self.health_key = health_key

    def argv(self) -> list[str]:
        return [airflow_bin(), self.command]

    def ready(self) -> bool:
        return api_health().get(self.health_key, {}).get("status") == "healthy"


AIRFLOW_COMPONENTS = (
    ("scheduler", "scheduler"),
    ("dag-processor", "dag_processor"),
    ("triggerer", "triggerer"),
)


class CeleryWorker(AirflowProcess):
    """One Celery worker: its own hostname, working folder (its tasks' cwd and TMPDIR) and log server port,
    as two machines would have."""

    needs = ("redis", "airflow-api-server")

    def __init__(self, name: str) -> None:
        self.name = name
        self.home = STACK / name

    def configure(self) -> None:
        (self.home / "tmp").mkdir(parents=True, exist_ok=True)

    def cwd(self) -> Path:
        return self.home

    def env(self) -> dict[str, str]:
        return {
            **stack_env(),
            "TMPDIR": str(self.home / "tmp"),
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(PORTS[f"{self.name}-logs"]),
        }

    def argv(self) -> list[str]:
        return [
            airflow_bin(),
            "celery",
            "worker",
            "--celery-hostname",
            f"{self.name}@%h",
            "--concurrency",
            "2",
        ]

    def ready(self) -> bool:
        """Celery says "<name>@<host> ready." once connected to the broker and consuming; only a line after
        its last start banner counts (the log is appended to across restarts, and grows with every task)."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return False
        since = text[text.rfind(f"-------------- {self.name}@") :]
        return re.search(rf"{re.escape(self.name)}@\S+ ready\.", since) is not None
