"""The locked Python environments: every lock is complete and hashed, and every environment the project
made holds exactly its lock, with `uv pip check` clean."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from devstack import envs
from tests.conftest import REPO

BUILT_BY_THE_STACK = ["project", "swift", "keystone"]  # dagfactory is made by `make bench` only


def _entries(lock: Path) -> list[tuple[str, list[str]]]:
    """(``name==version`` line, its hash lines) for each entry of a lock."""
    entries: list[tuple[str, list[str]]] = []
    for line in lock.read_text().splitlines():
        if re.match(r"^[A-Za-z0-9]", line):
            entries.append((line, []))
        elif line.strip().startswith("--hash=sha256:") and entries:
            entries[-1][1].append(line)
    return entries


@pytest.mark.parametrize("name", list(envs.ENVS))
def test_every_lock_entry_is_pinned_with_hashes(name: str) -> None:
    entries = _entries(envs.ENVS[name].lock)
    assert entries, f"{name}: empty lock"
    for line, hashes in entries:
        exact = re.match(r"^[A-Za-z0-9][A-Za-z0-9._-]*(\[[^\]]+\])?==\S+ \\$", line)
        assert exact, f"{name}: not an exact pin: {line}"
        assert hashes, f"{name}: {line} has no hash: --require-hashes would refuse it"


@pytest.mark.parametrize("name", list(envs.ENVS))
def test_every_direct_requirement_is_in_the_lock(name: str) -> None:
    env = envs.ENVS[name]
    locked = envs.pins(env.lock.read_text())
    for source in env.sources:
        if not source.endswith(".in"):
            continue
        for line in (REPO / source).read_text().splitlines():
            found = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)", line)
            if found:
                assert envs.normalize(found.group(1)) in locked, f"{source}: {line} is not in {env.lock.name}"


def test_exact_pins_of_the_inputs_are_what_the_locks_hold() -> None:
    """The versions the project names (Airflow, Swift, Keystone, uv) are the locked ones."""
    assert envs.pinned("project", "apache-airflow") == "3.3.2"
    assert envs.pinned("project", "uv") == envs.pinned("uv", "uv")
    assert envs.pinned("dagfactory", "apache-airflow") == envs.pinned("project", "apache-airflow")
    uv_in = (REPO / "requirements" / "uv.in").read_text()
    assert f"uv=={envs.pinned('uv', 'uv')}" in uv_in


def test_openstack_locks_respect_the_upper_constraints() -> None:
    upper = {}
    for line in envs.UPPER_CONSTRAINTS.read_text().splitlines():
        found = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)===([^\s;]+)(;.*)?$", line)
        if found and not found.group(3):
            upper[envs.normalize(found.group(1))] = found.group(2)
    assert len(upper) > 400
    for name in ("swift", "keystone"):
        locked = envs.pins(envs.ENVS[name].lock.read_text())
        differ = {pkg: (ver, upper[pkg]) for pkg, ver in locked.items() if pkg in upper and upper[pkg] != ver}
        assert not differ, f"{name}.lock leaves OpenStack's upper constraints: {differ}"


def test_describe_moves_names_added_removed_and_changed() -> None:
    before = {"a": "1", "b": "2", "c": "3"}
    after = {"a": "1", "b": "2.1", "d": "4"}
    assert envs.describe_moves(before, after) == ["  + d 4", "  - c 3", "  ~ b 2 -> 2.1"]


def test_pins_reads_locks_and_freeze_output_alike() -> None:
    text = "PyYAML==6.0.2 \\\n    --hash=sha256:ab\npsycopg[binary]==3.3.9 \\\n-e file:///x\nZope.Interface==7.0\n"
    assert envs.pins(text) == {"pyyaml": "6.0.2", "psycopg": "3.3.9", "zope-interface": "7.0"}


@pytest.mark.stack
@pytest.mark.parametrize("name", BUILT_BY_THE_STACK)
def test_each_environment_holds_exactly_its_lock(name: str) -> None:
    venv = envs.venv_path(name)
    assert (venv / "bin" / "python").exists(), f"{venv} is missing: run `make stack-up`"
    assert envs.is_current(envs.ENVS[name], venv), f"{venv} was not built from the current lock"
    envs.check(envs.ENVS[name], venv)  # raises on any difference or a failed `uv pip check`


@pytest.mark.stack
def test_a_package_outside_the_lock_fails_the_check(tmp_path: Path) -> None:
    """Install a small lock into a fresh environment, then one package more: the check names it, and a
    re-install brings the environment back to exactly its lock."""
    project_lock = envs.ENVS["project"].lock.read_text()
    entry = re.search(r"^idna==.*?(?=^\S)", project_lock, re.M | re.S)
    assert entry, "idna is expected in the project's lock"
    lock = tmp_path / "small.lock"
    lock.write_text(entry.group(0))
    small = envs.LockedEnv("small", lock, ())
    venv = tmp_path / "venv"
    assert envs.install(small, venv, python=sys.executable)
    assert not envs.install(small, venv, python=sys.executable)  # its marker names this lock: nothing to do
    envs.check(small, venv)

    extra = re.search(r"^certifi==(\S+)", project_lock, re.M)
    assert extra
    uv = str(envs.uv_binary())
    subprocess.run(
        [uv, "pip", "install", "-q", "--python", str(venv / "bin" / "python"), f"certifi=={extra.group(1)}"],
        check=True,
    )
    with pytest.raises(envs.EnvError, match=rf"\+ certifi {re.escape(extra.group(1))}"):
        envs.check(small, venv)

    lock.write_text(lock.read_text() + "\n")  # a changed lock: the environment is synced again
    assert envs.install(small, venv, python=sys.executable)
    envs.check(small, venv)
