"""Time Airflow parsing a dags folder, in a fresh interpreter: run by ``factory_bench`` for every variant.

Standard library and Airflow only, so the same code measures our files (project venv) and dag-factory's
(its own venv, where our package is not installed): one measuring code for all, no variant favoured.

``python bench/dagfactory_worker.py bag FOLDER [--instrument] [--profile OUT]``
    One in-process ``BundleDagBag`` over the folder (what ``airflow dags list`` or a test does), then
    ``DagSerialization.to_dict`` of every DAG (what the dag-processor sends to the scheduler).
    ``--instrument`` times our imports and factory steps (ours only); ``--profile`` writes cProfile stats.
``python bench/dagfactory_worker.py fork FOLDER --sample K [--instrument]``
    What the dag-processor really does: its manager pre-imports the ``airflow.*`` modules a file names,
    then forks one process per file, which parses and serializes that file alone. K files are sampled;
    per-file CPU seconds of each child (``wait4``: robust to other load) and wall seconds (fork
    included) are returned, so that imports a DAG file pulls in that the
    manager does not pre-import are paid once per file, as in production. Like the manager, the parent
    freezes its heap (``gc.freeze``) before forking.

The last stdout line is the JSON result; Airflow's logs go to stderr.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


def _bag(folder: Path) -> Any:
    from airflow.dag_processing.dagbag import BundleDagBag

    return BundleDagBag(dag_folder=str(folder), bundle_path=folder, bundle_name="bench", load_op_links=False)


def _serialize(bag: Any) -> int:
    from airflow.serialization.serialized_objects import DagSerialization

    return sum(len(json.dumps(DagSerialization.to_dict(dag))) for dag in bag.dags.values())


def _first_error(bag: Any) -> str | None:
    return next((f"{k}: {v.strip().splitlines()[-1]}" for k, v in bag.import_errors.items()), None)


OURS = "airflow_provider_datalake"
# What to time once the module defining it is imported: (module, attribute, label).
# build_dag calls these through its module's globals, so wrapping them there times every call.
WRAPS = (
    (f"{OURS}.factory.dags", "build_dag", "build_dag"),
    (f"{OURS}.factory.dags", "dag_from_spec", "dag_for"),
    (f"{OURS}.factory.dags", "cache_entries", "cache_json_load"),
    (f"{OURS}.factory.dags", "descriptor_from_cache", "cache_read_and_validate"),
    (f"{OURS}.descriptors.store", "_cache_entry", "descriptor_validate"),
)

TOP_LEVEL_STEPS = ("build_dag",)  # the others are parts of it


class _Instrument:
    """Times our imports where they really happen, and our factory's steps net of those imports.

    ``builtins.__import__`` is wrapped: the first import of one of our modules, outermost only, is timed
    (everything it pulls in included) under the name imported. Each of our functions in ``WRAPS`` is
    wrapped as soon as its module is imported, before anything calls it, and its time is counted net
    of the imports made during the call (the lazy ones in ``dag_for``), so nothing is counted twice.
    Importing nothing itself, it changes neither what is imported nor when. CPU seconds (the machine
    is shared).
    """

    def __init__(self) -> None:
        import builtins

        self.imports: dict[str, float] = {}
        self.seconds: dict[str, float] = {}
        self.import_total = 0.0
        self._depth = 0
        self._wrapped: set[tuple[str, str]] = set()
        self._import = builtins.__import__
        builtins.__import__ = self._timed_import

    def _timed_import(
        self, name: str, globals: Any = None, locals: Any = None, fromlist: Any = (), level: int = 0
    ) -> Any:
        if level or self._depth or not name.startswith(OURS) or name in sys.modules:
            return self._import(name, globals, locals, fromlist, level)
        self._depth += 1
        start = time.process_time()
        try:
            return self._import(name, globals, locals, fromlist, level)
        finally:
            elapsed = time.process_time() - start
            self._depth -= 1
            label = name.removeprefix(f"{OURS}.")
            self.imports[label] = self.imports.get(label, 0.0) + elapsed
            self.import_total += elapsed
            self._wrap_new()

    def _wrap_new(self) -> None:
        for module_name, attr, label in WRAPS:
            module = sys.modules.get(module_name)
            if module is not None and (module_name, attr) not in self._wrapped:
                self._wrapped.add((module_name, attr))
                setattr(module, attr, self._timed(getattr(module, attr), label))

    def _timed(self, original: Callable[..., Any], label: str) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            start, imports_before = time.process_time(), self.import_total
            try:
                return original(*args, **kwargs)
            finally:
                net = time.process_time() - start - (self.import_total - imports_before)
                self.seconds[label] = self.seconds.get(label, 0.0) + net

        return timed


def cmd_bag(args: argparse.Namespace) -> dict[str, Any]:
    start = time.perf_counter()
    import airflow.dag_processing.dagbag
    import airflow.sdk
    import airflow.serialization.serialized_objects  # noqa: F401

    result: dict[str, Any] = {"airflow_import_seconds": time.perf_counter() - start}
    timers = _Instrument() if args.instrument else None
    profiler = None
    if args.profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    start, cpu = time.perf_counter(), time.process_time()
    bag = _bag(args.folder)
    result["dagbag_seconds"] = time.perf_counter() - start
    result["dagbag_cpu_seconds"] = time.process_time() - cpu
    start, cpu = time.perf_counter(), time.process_time()
    result["serialized_bytes"] = _serialize(bag)
    result["serialize_seconds"] = time.perf_counter() - start
    result["serialize_cpu_seconds"] = time.process_time() - cpu
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(args.profile)
    if timers is not None:
        result["our_import_seconds"], result["timers"] = timers.imports, timers.seconds
    result.update(dags=len(bag.dags), import_errors=len(bag.import_errors), first_error=_first_error(bag))
    result["tasks"] = sum(len(dag.tasks) for dag in bag.dags.values())
    return result


def _parse_one(path: Path, folder: Path, out: int, instrument: bool) -> None:
    """The forked child: parse and serialize one file, report, and leave without any cleanup."""
    payload: dict[str, Any]
    try:
        start = time.process_time()
        steps: dict[str, float] = {}
        timers = _Instrument() if instrument else None  # in the child: it pays our imports, once per file
        bag = _bag_file(path, folder)
        parsed = time.process_time()
        _serialize(bag)
        steps["serialize"] = time.process_time() - parsed
        total = time.process_time() - start
        if timers is not None:
            steps.update({f"import {k}": v for k, v in timers.imports.items()}, **timers.seconds)
            ours = timers.import_total + sum(timers.seconds.get(k, 0.0) for k in TOP_LEVEL_STEPS)
            steps["rest: Airflow's DagBag (file, module, checks)"] = total - ours - steps["serialize"]
        payload = {"seconds": total, "dags": len(bag.dags), "error": _first_error(bag)}
        payload["steps"] = steps
    except BaseException as exc:  # the parent must hear about it, whatever it is
        payload = {"seconds": None, "dags": 0, "error": repr(exc), "steps": {}}
    os.write(out, json.dumps(payload).encode())
    os._exit(0)


def _bag_file(path: Path, folder: Path) -> Any:
    from airflow.dag_processing.dagbag import BundleDagBag

    return BundleDagBag(dag_folder=str(path), bundle_path=folder, bundle_name="bench", load_op_links=False)


def cmd_fork(args: argparse.Namespace) -> dict[str, Any]:
    import importlib

    import airflow.dag_processing.dagbag
    import airflow.sdk
    import airflow.serialization.serialized_objects  # noqa: F401
    from airflow.utils.file import iter_airflow_imports

    gc.freeze()  # as DagFileProcessorManager.before_run: the children do not walk the parent's heap
    files = sorted(p for p in args.folder.glob("*.py"))
    step = max(1, len(files) // args.sample)
    sample = files[::step][: args.sample]
    walls: list[float] = []
    cpus: list[float] = []
    inner: list[float] = []
    steps: dict[str, list[float]] = {}
    errors: list[str] = []
    dags = 0
    for path in sample:
        for module in iter_airflow_imports(str(path)):  # as DagFileProcessorProcess.start does
            try:
                importlib.import_module(module)
            except Exception as exc:
                errors.append(f"pre-import {module}: {exc}")
        read, write = os.pipe()
        start = time.perf_counter()
        pid = os.fork()
        if pid == 0:
            os.close(read)
            _parse_one(path, args.folder, write, args.instrument)
        os.close(write)
        chunks = []
        while chunk := os.read(read, 65536):
            chunks.append(chunk)
        os.close(read)
        _, _, usage = os.wait4(pid, 0)
        walls.append(time.perf_counter() - start)
        cpus.append(usage.ru_utime + usage.ru_stime)
        child = json.loads(b"".join(chunks) or b'{"seconds": null, "dags": 0, "error": "no answer"}')
        dags += child["dags"]
        if child["seconds"] is not None:
            inner.append(child["seconds"])
        for key, value in child.get("steps", {}).items():
            steps.setdefault(key, []).append(value)
        if child["error"]:
            errors.append(child["error"])
    return {
        "files": len(files),
        "sampled": len(sample),
        "dags": dags,
        "per_file_cpu_median": statistics.median(cpus),
        "per_file_wall_median": statistics.median(walls),
        "per_file_child_cpu_median": statistics.median(inner) if inner else None,
        "per_file_steps_median": {k: statistics.median(v) for k, v in steps.items()},
        "errors": errors[:3],
        "error_count": len(errors),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    bag = sub.add_parser("bag")
    bag.add_argument("folder", type=Path)
    bag.add_argument("--instrument", action="store_true")
    bag.add_argument("--profile")
    fork = sub.add_parser("fork")
    fork.add_argument("folder", type=Path)
    fork.add_argument("--sample", type=int, default=30)
    fork.add_argument("--instrument", action="store_true")
    args = parser.parse_args()
    real_stdout = os.dup(1)
    os.dup2(2, 1)  # Airflow's log lines and prints go to stderr; stdout keeps the one JSON line
    result = cmd_bag(args) if args.cmd == "bag" else cmd_fork(args)
    sys.stdout.flush()
    os.write(real_stdout, (json.dumps(result) + "\n").encode())


if __name__ == "__main__":
    main()
