"""The stack's shared service helpers (devstack/service.py) that need no server."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO


@pytest.fixture
def service(monkeypatch: pytest.MonkeyPatch):
    # devstack/ runs as a folder of scripts (stack.py imports its siblings by their bare names).
    monkeypatch.syspath_prepend(str(REPO / "devstack"))
    return importlib.import_module("service")


def test_a_new_secret_never_reads_as_a_command_line_option(service) -> None:
    # token_urlsafe starts with "-" once in 64 draws; `keystone-manage bootstrap --bootstrap-password -x…`
    # then failed a fresh stack with "expected one argument".
    drawn = [service.new_secret(18) for _ in range(2000)]
    assert not [s for s in drawn if s.startswith("-")]
    assert len(set(drawn)) == len(drawn)
    assert all(len(s) >= 24 for s in drawn)


def test_one_of_ours_that_exits_while_awaited_is_started_anew(service, monkeypatch, tmp_path, capsys) -> None:
    # An Airflow component that lost its database runs on a few seconds before it exits; `up` found it alive,
    # waited on it, and failed with "exited during start-up" instead of starting a new one.
    monkeypatch.setattr(service, "STACK", tmp_path)
    monkeypatch.setattr(service, "RUN", tmp_path / "run")
    monkeypatch.setattr(service, "LOGS", tmp_path / "logs")
    (tmp_path / "run").mkdir()
    ready_marker = tmp_path / "ready"

    class Flaky(service.Service):
        name = "flaky"
        start_timeout = 20

        def argv(self) -> list[str]:
            return [
                sys.executable,
                "-c",
                f"import pathlib, time; pathlib.Path({str(ready_marker)!r}).touch(); time.sleep(60)",
            ]

        def ready(self) -> bool:
            return ready_marker.exists()

    svc = Flaky()
    dying = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(1.5)"], start_new_session=True)
    stamp = Path(f"/proc/{dying.pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    svc.pid_path.write_text(f"{dying.pid} {stamp}\n")
    assert svc.pid() == dying.pid
    try:
        svc.start()
        assert ready_marker.exists()
        assert svc.pid() not in (None, dying.pid)
        assert "flaky exited while it was starting; starting it again" in capsys.readouterr().out
    finally:
        svc.stop()
        dying.wait(timeout=5)
