"""Every Python environment the project makes, each built from a complete lock: ``python devstack/envs.py``.

    python devstack/envs.py lock [--upgrade] [NAME...]   re-resolve the locks, say what moved (`make lock`)
    python devstack/envs.py install NAME [VENV]
    python devstack/envs.py check [NAME...]  compare each built environment with its lock, `uv pip check` it

An environment is its lock and nothing else: ``uv pip sync --require-hashes`` installs exactly the pinned
versions (removing anything extra), ``uv pip check`` must then be clean, and the environment's marker holds
the lock's hash, so a changed lock re-syncs a cached environment and a stale one can never pass for current.
Resolution happens only in ``lock``, never at install time, so a release upstream cannot change what a new
machine installs.

The locks (inputs beside them, ``NAME.in``):
- ``requirements/project.lock``: the project's own environment (``make install``), from ``pyproject.toml``
  with all its extras (``dev``, ``celery``) plus ``requirements/project.in`` (Airflow's exact version, the
  build backend, uv);
- ``devstack/locks/swift.lock`` and ``keystone.lock``: the stack's OpenStack services, resolved within the
  OpenStack release's upper constraints (``devstack/locks/openstack-upper-constraints.txt``), as OpenStack
  itself installs them;
- ``devstack/locks/dagfactory.lock``: the dag-factory baseline of ``bench/factory_bench.py``.

Standard library only: the stack runs this before the project's environment matters.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
LOCKS = REPO / "devstack" / "locks"
CACHE = Path(os.environ.get("DATALAKE_CACHE_DIR", Path.home() / ".cache" / "datalake")).resolve()
# Where the services' environments are built; CI points it at an empty folder of its own, so a pin that is
# missing fails CI and not a new user.
PYENV_DIR = Path(os.environ.get("DATALAKE_PYENV_DIR", CACHE / "venvs")).resolve()
PYTHON_VERSION = "3.11"
PLATFORM = "x86_64-unknown-linux-gnu"
UPPER_CONSTRAINTS = LOCKS / "openstack-upper-constraints.txt"


class EnvError(RuntimeError):
    """An environment could not be locked, installed or verified; the message says which and why."""


@dataclass(frozen=True)
class LockedEnv:
    name: str
    lock: Path
    sources: tuple[str, ...]  # what `uv pip compile` reads, relative to the repository
    constraints: Path | None = None
    # The project is installed on top of its lock (editable, no dependencies); it is no lock's entry.
    own_package: str | None = None
    # Where that package's pyproject.toml is (default: the repository's root).
    own_path: Path | None = None
    # A lock that no environment is built from (uv's bootstrap, installed by pip in `make install`).
    lock_only: bool = False

    @property
    def lock_name(self) -> str:
        """The lock's path as people see it: relative to the repository."""
        return str(self.lock.relative_to(REPO)) if self.lock.is_relative_to(REPO) else str(self.lock)

    @property
    def lock_hash(self) -> str:
        return hashlib.sha256(self.lock.read_bytes()).hexdigest()


ENVS: dict[str, LockedEnv] = {
    env.name: env
    for env in (
        LockedEnv("uv", REPO / "requirements" / "uv.txt", ("requirements/uv.in",), lock_only=True),
        LockedEnv(
            "project",
            REPO / "requirements" / "project.lock",
            ("pyproject.toml", "requirements/project.in"),
            own_package="airflow-provider-datalake",
        ),
        LockedEnv(
            "swift",
            LOCKS / "swift.lock",
            ("devstack/locks/swift.in",),
            UPPER_CONSTRAINTS,
            # the catalogue middleware of the proxy's pipeline (no Airflow: pymongo is in the lock)
            own_package="datalake-catalog",
            own_path=REPO / "datalake_catalog",
        ),
        # docker/swift's image: pymongo for the catalogue middleware (built there, not installed here)
        LockedEnv(
            "swift-image",
            REPO / "docker" / "swift" / "requirements.txt",
            ("docker/swift/requirements.in",),
            UPPER_CONSTRAINTS,
            lock_only=True,
        ),
        LockedEnv("keystone", LOCKS / "keystone.lock", ("devstack/locks/keystone.in",), UPPER_CONSTRAINTS),
        LockedEnv("dagfactory", LOCKS / "dagfactory.lock", ("devstack/locks/dagfactory.in",)),
    )
}


def log(msg: str) -> None:
    print(f"[envs] {msg}", flush=True)


def uv_binary() -> Path:
    """The project's pinned uv (requirements/uv.txt, installed by `make install`)."""
    venv = Path(os.environ.get("DATALAKE_VENV", REPO / ".venv"))
    uv = venv / "bin" / "uv"
    if not uv.exists():
        raise EnvError(f"{uv} is missing: run `make install` first (it installs the pinned uv)")
    return uv


def _run(cmd: list[str], what: str, **kw) -> subprocess.CompletedProcess:
    env = {**os.environ, "UV_CACHE_DIR": os.environ.get("UV_CACHE_DIR", str(CACHE / "uv"))}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, **kw)
    if proc.returncode != 0:
        raise EnvError(f"{what} failed ({proc.returncode}): {' '.join(cmd)}\n{proc.stdout}\n{proc.stderr}")
    return proc


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(text: str) -> dict[str, str]:
    """``name==version`` lines of a lock or of ``uv pip freeze``, names normalised (PEP 503)."""
    found: dict[str, str] = {}
    for line in text.splitlines():
        match = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;\\]+)", line)
        if match:
            found[normalize(match.group(1))] = match.group(2)
    return found


def pinned(env_name: str, package: str) -> str:
    """The version of ``package`` in ``env_name``'s lock."""
    return pins(ENVS[env_name].lock.read_text())[normalize(package)]


# --------------------------------------------------------------------------- lock


def compile_lock(env: LockedEnv, upgrade: bool = False) -> dict[str, str]:
    """Resolve ``env`` into its lock file: its current pins are kept wherever the inputs still allow them
    (only what an input changed moves), or with ``upgrade`` everything goes to the newest allowed.
    Returns the pins it held before."""
    before = pins(env.lock.read_text()) if env.lock.exists() else {}
    cmd = [str(uv_binary()), "pip", "compile", "--quiet", "--generate-hashes", "--no-strip-extras"]
    if upgrade:
        cmd.append("--upgrade")
    cmd += ["--python-version", PYTHON_VERSION, "--python-platform", PLATFORM]
    cmd += ["--custom-compile-command", "make lock", "--output-file", env.lock_name]
    if env.own_package:
        cmd += ["--all-extras"]
    if env.constraints:
        cmd += ["--constraint", str(env.constraints.relative_to(REPO))]
    _run([*cmd, *env.sources], f"locking {env.name}", cwd=REPO)
    return before


def describe_moves(before: dict[str, str], after: dict[str, str]) -> list[str]:
    lines = [f"  + {name} {after[name]}" for name in sorted(after.keys() - before.keys())]
    lines += [f"  - {name} {before[name]}" for name in sorted(before.keys() - after.keys())]
    lines += [
        f"  ~ {name} {before[name]} -> {after[name]}"
        for name in sorted(before.keys() & after.keys())
        if before[name] != after[name]
    ]
    return lines


def cmd_lock(names: list[str], upgrade: bool = False) -> None:
    for env in select(names):
        before = compile_lock(env, upgrade)
        moves = describe_moves(before, pins(env.lock.read_text()))
        log(f"{env.name}: {env.lock_name} " + ("unchanged" if not moves else "moved:"))
        for line in moves:
            print(line)


# --------------------------------------------------------------------------- install and verify


def marker_text(env: LockedEnv) -> str:
    # An environment with a package of the checkout in it (editable) names the checkout: another clone
    # sharing the cached environment installs its own.
    own = f" own {env.own_path}" if env.own_path else ""
    return f"lock sha256 {env.lock_hash} python {PYTHON_VERSION}{own}\n"


def is_current(env: LockedEnv, venv: Path) -> bool:
    marker = venv / ".datalake-lock"
    return (venv / "bin" / "python").exists() and marker.exists() and marker.read_text() == marker_text(env)


def install(env: LockedEnv, venv: Path, python: str = sys.executable) -> bool:
    """Make ``venv`` exactly ``env``'s lock (no-op when its marker names this lock); True if it built."""
    if is_current(env, venv):
        return False
    uv = str(uv_binary())
    log(f"installing {env.name} from {env.lock_name} into {venv}")
    marker = venv / ".datalake-lock"
    marker.unlink(missing_ok=True)  # an interrupted sync must not leave the old marker standing
    if not (venv / "bin" / "python").exists():
        shutil.rmtree(venv, ignore_errors=True)
        _run([uv, "venv", "-q", "--python", python, str(venv)], f"creating {venv}")
    target = ["--python", str(venv / "bin" / "python")]
    _run([uv, "pip", "sync", "-q", "--require-hashes", *target, str(env.lock)], f"installing {env.name}")
    if env.own_package:
        own = env.own_path or REPO
        _run(
            [uv, "pip", "install", "-q", "--no-deps", "--no-build-isolation", *target, "-e", str(own)],
            f"installing {env.own_package} into {env.name}",
        )
    check(env, venv)
    # Bytecode at install: where PYTHONDONTWRITEBYTECODE is set (as on CI machines) every interpreter start
    # (Airflow's task processes, a service's workers) would otherwise compile its libraries again.
    _run([str(venv / "bin" / "python"), "-m", "compileall", "-q", "-j0", str(venv / "lib")], "compileall")
    marker.write_text(marker_text(env))
    return True


def check(env: LockedEnv, venv: Path) -> None:
    """The environment holds exactly its lock (plus the project itself) and its requirements agree."""
    uv = str(uv_binary())
    target = ["--python", str(venv / "bin" / "python")]
    installed = pins(_run([uv, "pip", "freeze", *target], f"listing {venv}").stdout)
    if env.own_package:
        installed.pop(normalize(env.own_package), None)
    problems = describe_moves(pins(env.lock.read_text()), installed)
    if problems:
        raise EnvError(
            f"{venv} differs from {env.lock_name} (+ not in the lock, - missing, ~ other "
            "version):\n" + "\n".join(problems)
        )
    _run([uv, "pip", "check", *target], f"`uv pip check` of {env.name}")


def venv_path(name: str) -> Path:
    return Path(os.environ.get("DATALAKE_VENV", REPO / ".venv")) if name == "project" else PYENV_DIR / name


def select(names: list[str]) -> list[LockedEnv]:
    unknown = [name for name in names if name not in ENVS]
    if unknown:
        raise EnvError(f"unknown environment(s) {', '.join(unknown)}; known: {', '.join(ENVS)}")
    return [ENVS[name] for name in names] if names else list(ENVS.values())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    lock = sub.add_parser("lock")
    lock.add_argument("names", nargs="*")
    lock.add_argument("--upgrade", action="store_true", help="every package to the newest its inputs allow")
    inst = sub.add_parser("install")
    inst.add_argument("name", choices=list(ENVS))
    inst.add_argument("venv", type=Path, nargs="?")
    sub.add_parser("check").add_argument("names", nargs="*")
    args = parser.parse_args(argv)
    try:
        if args.command == "lock":
            cmd_lock(args.names, args.upgrade)
        elif args.command == "install":
            install(ENVS[args.name], args.venv or venv_path(args.name))
        else:
            for env in select(args.names):
                if env.lock_only:
                    continue
                venv = venv_path(env.name)
                if not (venv / "bin" / "python").exists():
                    log(f"{env.name}: not built ({venv})")
                    continue
                check(env, venv)
                log(f"{env.name}: matches {env.lock_name}; uv pip check clean")
    except EnvError as exc:
        print(f"[envs] ERROR: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
