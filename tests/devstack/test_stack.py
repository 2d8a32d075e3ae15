"""The stack's command line (devstack/stack.py): a second stack beside the first, `up` twice, `status`,
and `down` stopping only what it started."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.stack

STACK_PY = REPO / "devstack" / "stack.py"


def _stack(args: list[str], stack_dir: Path, offset: int) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATALAKE_STACK_DIR": str(stack_dir), "DATALAKE_PORT_OFFSET": str(offset)}
    return subprocess.run(
        [sys.executable, str(STACK_PY), *args], env=env, capture_output=True, text=True, timeout=300
    )


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.fixture
def open_stack_dir() -> Iterator[Path]:
    """A stack folder the cluster's OS user can reach (pytest's tmp_path sits under a 0700 folder of root's;
    as root, the stack runs PostgreSQL as ``postgres``)."""
    path = Path(tempfile.mkdtemp(prefix="datalake-stack-"))
    path.chmod(0o755)
    yield path / "stack"
    shutil.rmtree(path, ignore_errors=True)


def test_second_stack_up_is_idempotent_and_down_stops_only_its_own(open_stack_dir: Path) -> None:
    """A throw-away stack (its own folder and ports) proves up twice, status, and down by PID.

    InfluxDB and Neo4j set up their admin user from the new stack's own secrets at first start: `up`
    succeeds only once an authenticated query answers on each.
    """
    stack_dir = open_stack_dir
    offset = 700
    names = ["memcached", "ferretdb", "influxdb", "neo4j"]
    expected = set(names)
    first = _stack(["up", *names], stack_dir, offset)
    assert first.returncode == 0, first.stdout + first.stderr
    pids = {p.stem: int(p.read_text().split()[0]) for p in (stack_dir / "run").glob("*.pid")}
    try:
        assert set(pids) == expected
        env = (stack_dir / "env").read_text()
        assert f'"port":{18086 + offset}' in env and f'"port":{17687 + offset}' in env
        started = time.monotonic()
        again = _stack(["up", *names], stack_dir, offset)
        assert again.returncode == 0, again.stderr
        assert time.monotonic() - started < 15  # nothing to start: readiness checks only
        assert {p.stem: int(p.read_text().split()[0]) for p in (stack_dir / "run").glob("*.pid")} == pids
        status = _stack(["status", *expected], stack_dir, offset)
        assert status.returncode == 0, status.stdout
        assert status.stdout.count("healthy") == len(expected)
    finally:
        down = _stack(["down", *expected], stack_dir, offset)
    assert down.returncode == 0, down.stderr
    assert not any(_alive(pid) for pid in pids.values())
    # The main stack's servers were not touched.
    main = subprocess.run([sys.executable, str(STACK_PY), "status", *names], capture_output=True, text=True)
    assert main.returncode == 0, main.stdout
