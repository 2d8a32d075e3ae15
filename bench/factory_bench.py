"""DAG factory benchmarks: parse time of 1,000 formats, and commit-to-run latency under the real Airflow.

``python -m bench.factory_bench [--parse-only] [--n-formats 1000] [--repeats 3] [--fork-sample 30]
[--dagfactory-venv DIR] [--inserts 20]``

1. Parse (goal: 1,000 descriptors parsed in <= 1 s). 1,000 synthetic CSV descriptors in a cache and the
   1,000 generated ``datalake__<format>.py`` files, against two baselines built in the same run:

   * hand-written: 1,000 files each building *the same* DAG with plain Airflow code (same dag_id, Asset
     with its AssetWatcher and our trigger, tags, description, doc_md, default_args, max_active_runs,
     the same operators ``claim`` -> mapped ``load__<target>`` -> ``finish``), no factory and no cache:
     what is left is the factory's own cost (cache read, ``dag_from_spec``);
   * hand-written TaskFlow: the same DAG with ``@task`` functions and the asset in a list, as the
     factory built it before (what the operator classes saved);
   * Airflow's floor: 1,000 files of one ``EmptyOperator`` each, no schedule: the least Airflow spends
     per DAG, whatever builds it;
   * dag-factory (astronomer's, in its own venv, see ``--dagfactory-venv``): 1,000 YAML DAGs as close as
     its YAML allows. *Equivalent* there means: same dag_id, description, tags, doc_md, default_args,
     catchup, max_active_runs; scheduled on an Asset by URI; the same three ``@task`` tasks with the same
     ids, ``load`` mapped (``expand``) over ``claim``'s output, ``finish`` taking it with trigger rule
     ``all_done`` downstream of ``load``. Its YAML cannot declare an AssetWatcher, so its Asset has none
     (and its callables are stubs in a module on PYTHONPATH, as its docs do it). Two layouts: one loader
     ``.py`` per YAML file (like ours: one file per format) and one loader for the whole folder (its
     documented usage).

   Every variant is timed by the same code (``bench/dagfactory_worker.py``), each in a fresh interpreter
   and the same clean Airflow environment, ``--repeats`` times interleaved; medians of CPU seconds are
   reported (the machine is shared: wall time measures the neighbours too; it is kept in the JSON):

   * in-process DagBag: one ``DagBag`` over the folder, then ``DagSerialization.to_dict`` of each DAG;
   * per file as the dag-processor does it: a process forked per file (after pre-importing the
     ``airflow.*`` modules the file names, as its manager does) parses and serializes that file alone;
     what a DAG file imports beyond Airflow is paid in every one of those processes, so this, times
     the number of files, is what the dag-processor spends per pass over the folder;
   * ours twice: the default layout (a file per format) and ``single`` (one file builds every format:
     one process per pass instead of 1,000);
   * the factory's own steps, in one process and in one per-file process: cache reads + validation, our
     imports where they happen, ``dag_for`` net of them; and a cProfile of the DagBag grouped by package.

   dag-factory's venv (``~/.cache/datalake/venvs/dagfactory``) is made exactly its lock
   (``devstack/locks/dagfactory.lock``) when missing or stale; if it cannot be made or does not run
   on Airflow 3.3, the report says why and goes on.
2. Latency: with the stack's Airflow running, ``--inserts`` sequential `insert_datalake` calls of a
   campus MQTT dump; for each, seconds from commit to the asset-triggered run being created (queued) and
   to the rows being visible in PostgreSQL. p50 / p95 printed (goal: run queued p50 <= 5 s).

Ratios are baseline seconds / our seconds: above 1 ours is faster. Results: ``bench/results/factory.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import pstats
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from airflow_provider_datalake.airflow_rest import AirflowRest
from bench.common import say
from devstack import envs

REPO = Path(__file__).resolve().parent.parent
WORKER = Path(__file__).with_name("dagfactory_worker.py")
DAGFACTORY_VENV = envs.venv_path("dagfactory")
# devstack/locks/dagfactory.lock: dag-factory 1.x (the line that supports Airflow 3) on the project's Airflow.
DAGFACTORY_PINS = tuple(
    f"{name}=={envs.pinned('dagfactory', name)}" for name in ("apache-airflow", "dag-factory")
)
WORKER_TIMEOUT = 900

DESCRIPTOR = """
name: {name}
description: synthetic format {i}
parser: {{kind: csv, delimiter: ";", decimal: ","}}
fields:
  - {{name: sensor, required: true}}
  - {{name: value, type: float}}
  - {{name: measured_at, type: timestamp, required: true}}
targets:
  - {{store: postgres, table: t_{i}, keys: [sensor, measured_at], mode: merge}}
"""

# What dag_from_spec builds, written by hand: the same operators, asset, watcher and trigger; the load
# tasks read their descriptor from a cache path when they run, as the factory's do.
HANDWRITTEN = '''"""Hand-written DAG for format {fmt}, the same DAG as the factory builds."""
from airflow.sdk import DAG, Asset, AssetWatcher

from airflow_provider_datalake.operators.formats import (
    ClaimRawObjectsOperator,
    FinishRawObjectsOperator,
    LoadRawObjectOperator,
)
from airflow_provider_datalake.triggers.raw_objects import CommittedObjectsTrigger

FMT = {fmt!r}
asset = Asset(
    name=f"datalake_raw__{{FMT}}",
    uri=f"datalake://raw/{{FMT}}",
    group="datalake",
    watchers=[
        AssetWatcher(
            name=f"datalake_watch__{{FMT}}",
            trigger=CommittedObjectsTrigger(
                format=FMT, mongo_conn_id="mongo_default", database=None, poll_interval=2.0
            ),
        )
    ],
)

with DAG(
    dag_id=f"datalake__{{FMT}}",
    schedule=asset,
    catchup=False,
    max_active_runs=4,
    tags={tags!r},
    doc_md={doc!r},
    description={description!r},
    default_args={{"owner": "datalake", "retries": 0}},
) as dag:
    conns = {{"mongo_conn_id": "mongo_default", "database": None}}
    claim = ClaimRawObjectsOperator(
        task_id="claim", format=FMT, limit=100, lease_seconds=300.0, max_attempts=3, **conns
    )
    finish = FinishRawObjectsOperator(
        task_id="finish", format=FMT, record_ids=claim.output, targets=[{target!r}], **conns
    )
    load = LoadRawObjectOperator.partial(
        task_id={load_id!r},
        format=FMT,
        target={target!r},
        descriptor=None,
        cache_path="datalake_formats.json",
        swift_conn_id="swift_default",
        **conns,
    ).expand(record_id=claim.output)
    load >> finish
'''

# The factory's DAG as it was built before (TaskFlow ``@task`` functions, the asset in a one-item list),
# written by hand: what the same DAG costs in the style most Airflow code is written in.
HANDWRITTEN_TASKFLOW = '''"""Hand-written DAG for format {fmt}, the same DAG as the factory builds."""
from airflow.sdk import DAG, Asset, AssetWatcher, get_current_context, task

from airflow_provider_datalake.triggers.raw_objects import CommittedObjectsTrigger

FMT = {fmt!r}
asset = Asset(
    name=f"datalake_raw__{{FMT}}",
    uri=f"datalake://raw/{{FMT}}",
    group="datalake",
    watchers=[
        AssetWatcher(
            name=f"datalake_watch__{{FMT}}",
            trigger=CommittedObjectsTrigger(
                format=FMT, mongo_conn_id="mongo_default", database=None, poll_interval=2.0
            ),
        )
    ],
)

with DAG(
    dag_id=f"datalake__{{FMT}}",
    schedule=[asset],
    catchup=False,
    max_active_runs=4,
    tags={tags!r},
    doc_md={doc!r},
    description={description!r},
    default_args={{"owner": "datalake", "retries": 0}},
) as dag:

    @task(task_id="claim")
    def claim() -> list[str]:
        """Take the committed objects of this format for this run (atomic per object)."""
        from airflow_provider_datalake.hooks.catalog import CatalogHook
        from airflow_provider_datalake.processing import claim_objects

        run_id = get_current_context()["run_id"]
        return claim_objects(FMT, run_id, catalog=CatalogHook("mongo_default"), limit=100)

    @task(task_id={load_id!r})
    def load(record_id: str) -> dict:
        raise NotImplementedError("parse-time benchmark only")

    @task(task_id="finish", trigger_rule="all_done")
    def finish(record_ids: list[str]) -> dict:
        """processed, or failed when any target of the object failed in this run (the run then fails)."""
        raise NotImplementedError("parse-time benchmark only")

    ids = claim()
    mapped = load.expand(record_id=ids)
    done = finish(ids)
    mapped >> done
'''

# Airflow's floor: the least a DAG can be (one empty task, no schedule). No factory can parse 1,000
# formats faster than Airflow parses 1,000 of these.
FLOOR = '''"""The smallest DAG: what Airflow itself costs per DAG file."""
from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import DAG

with DAG(dag_id={dag_id!r}, schedule=None) as dag:
    EmptyOperator(task_id="noop")
'''

DAGFACTORY_TASKS = '''"""Callables of the dag-factory benchmark's tasks (stubs: only parsing is measured)."""


def claim():
    return []


def load(record_id):
    return {"record_id": record_id}


def finish(record_ids):
    return {}
'''

# One loader per YAML file, as our one file per format; the two words make the DagBag read it.
DAGFACTORY_LOADER = """# airflow DAG: dag-factory loader of the YAML file beside it
from pathlib import Path

from dagfactory import load_yaml_dags

load_yaml_dags(globals_dict=globals(), config_filepath=str(Path(__file__).with_suffix(".yaml")))
"""

DAGFACTORY_FOLDER_LOADER = """# airflow DAG: dag-factory loader of every YAML file in this folder
from pathlib import Path

from dagfactory import load_yaml_dags

load_yaml_dags(globals_dict=globals(), dags_folder=str(Path(__file__).parent))
"""


def _dagfactory_yaml(desc: Any, doc: str) -> str:
    """The dag-factory YAML of the same DAG (see the module docstring for what differs)."""
    import yaml

    fmt, load_id = desc.name, f"load__{desc.targets[0].name}"
    config = {
        f"datalake__{fmt}": {
            "description": desc.description,
            "schedule": [f"datalake://raw/{fmt}"],
            "catchup": False,
            "max_active_runs": 4,
            "tags": ["datalake", f"format:{fmt}", "postgres"],
            "doc_md": doc,
            "default_args": {"owner": "datalake", "retries": 0},
            "tasks": {
                "claim": {"decorator": "airflow.sdk.task", "python_callable": "bench_df_tasks.claim"},
                load_id: {
                    "decorator": "airflow.sdk.task",
                    "python_callable": "bench_df_tasks.load",
                    "expand": {"record_id": "+claim"},
                },
                "finish": {
                    "decorator": "airflow.sdk.task",
                    "python_callable": "bench_df_tasks.finish",
                    "trigger_rule": "all_done",
                    "record_ids": "+claim",
                    "dependencies": [load_id],
                },
            },
        }
    }
    return yaml.safe_dump(config, sort_keys=False, width=110)


def write_variants(root: Path, n: int) -> dict[str, Path]:
    """The four dags folders (ours, hand-written, dag-factory per file and per folder) for n formats."""
    from airflow_provider_datalake.descriptors.loader import parse_descriptor
    from airflow_provider_datalake.factory import render_format_files
    from airflow_provider_datalake.format_cache import CACHE_NAME, _doc

    names = ("ours", "ours_single", "hand", "hand_taskflow", "floor")
    names += ("dagfactory", "dagfactory_folder", "pypath")
    folders = {name: root / name for name in names}
    for folder in folders.values():
        folder.mkdir()
    entries = {}
    for i in range(n):
        name = f"fmt_{i:04d}"
        text = DESCRIPTOR.format(name=name, i=i)
        desc = parse_descriptor(text)  # each one is valid
        entries[name] = {"version": 1, "yaml": text}
        doc = _doc(desc)
        common = {
            "fmt": name,
            "tags": ["datalake", f"format:{name}", "postgres"],
            "doc": doc,
            "description": desc.description,
            "load_id": f"load__{desc.targets[0].name}",
        }
        hand = HANDWRITTEN.format(**common, target=desc.targets[0].name)
        (folders["hand"] / f"hand_{name}.py").write_text(hand)
        (folders["hand_taskflow"] / f"hand_{name}.py").write_text(HANDWRITTEN_TASKFLOW.format(**common))
        (folders["floor"] / f"floor_{name}.py").write_text(FLOOR.format(dag_id=f"floor__{name}"))
        config = _dagfactory_yaml(desc, doc)
        (folders["dagfactory"] / f"df_{name}.yaml").write_text(config)
        (folders["dagfactory"] / f"df_{name}.py").write_text(DAGFACTORY_LOADER)
        (folders["dagfactory_folder"] / f"df_{name}.yaml").write_text(config)
    (folders["dagfactory_folder"] / "df_load_all.py").write_text(DAGFACTORY_FOLDER_LOADER)
    (folders["pypath"] / "bench_df_tasks.py").write_text(DAGFACTORY_TASKS)
    # What `datalake formats sync` writes: YAML plus its pre-parsed copy (sync_cache's _cache_record).
    from airflow_provider_datalake.descriptors.store import FormatVersion, _cache_record

    cache = {
        "format": 1,
        "descriptors": {
            name: _cache_record(FormatVersion(name, 1, "active", e["yaml"], "", None, None))
            for name, e in entries.items()
        },
    }
    from airflow_provider_datalake.factory.render import set_layout

    for name, layout in (("ours", "per-format"), ("ours_single", "single")):
        (folders[name] / CACHE_NAME).write_text(json.dumps(cache, separators=(",", ":")))
        set_layout(folders[name], layout)
        render_format_files(folders[name])
    return folders


def time_cache_reads(cache_path: Path, repeats: int) -> dict[str, float]:
    """What 1,000 DAG files of one process read from the cache, cold each round; medians: the JSON (read
    once, then memoised by the file's stat), each format's DAG spec (what ``build_dag`` uses), and, for
    reference, the validating path (``descriptor_from_cache``: what an entry without a spec costs)."""
    from airflow_provider_datalake import format_cache as spec
    from airflow_provider_datalake.factory.dags import descriptor_from_cache

    names = list(json.loads(cache_path.read_text())["descriptors"])
    specs, json_only, validating = [], [], []
    for _ in range(repeats):
        spec._entries.clear()
        start = time.perf_counter()
        spec.cache_entries(cache_path)
        json_only.append(time.perf_counter() - start)
        spec._entries.clear()
        start = time.perf_counter()
        for name in names:
            assert spec.DagSpec.from_cache(spec.cache_entries(cache_path)[name], name) is not None
        specs.append(time.perf_counter() - start)
        spec._entries.clear()
        start = time.perf_counter()
        for name in names:
            descriptor_from_cache(name, cache_path)
        validating.append(time.perf_counter() - start)
    return {
        "seconds": statistics.median(specs),
        "json_load_seconds": statistics.median(json_only),
        "validating_seconds": statistics.median(validating),
    }


# --------------------------------------------------------------------------------------- dag-factory venv


def _probe(python: Path, env: dict[str, str]) -> tuple[str | None, str]:
    """(dag-factory version, why not) of a venv: it must import and run on Airflow 3.3."""
    code = "import airflow, dagfactory; print(dagfactory.__version__, airflow.__version__)"
    proc = subprocess.run([str(python), "-c", code], capture_output=True, text=True, env=env, timeout=300)
    if proc.returncode != 0:
        return None, f"dag-factory does not import: {_last_line(proc.stderr)}"
    df_version, af_version = proc.stdout.split()[-2:]
    if not af_version.startswith("3.3."):
        return None, f"its venv has Airflow {af_version}, not 3.3"
    return df_version, ""


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1].strip()[:300] if lines else "(no output)"


def dagfactory_python(venv: Path, env: dict[str, str]) -> tuple[Path | None, str]:
    """The dag-factory venv's python (made exactly its lock when missing or stale), or None and why not.

    Kept apart from the project's venv: dag-factory brings its own dependencies, and the comparison
    must not change what the project runs with. ``env`` is the workers' clean Airflow environment.
    """
    python = venv / "bin" / "python"
    try:
        if envs.install(envs.ENVS["dagfactory"], venv):
            say(f"created {venv} from {envs.ENVS['dagfactory'].lock_name}")
    except envs.EnvError as exc:
        return None, f"install failed: {_last_line(str(exc))}"
    version, reason = _probe(python, env)
    return (python if version else None), (version or reason)


# --------------------------------------------------------------------------------------- measuring


def _worker_env(home: Path, folder: Path, pythonpath: Path | None) -> dict[str, str]:
    """The same clean Airflow environment for every variant: a throw-away AIRFLOW_HOME, no stack
    connections (parsing needs none), no telemetry (dag-factory's would be an outside request)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "PYTHON"))}
    env.update(
        AIRFLOW_HOME=str(home),
        AIRFLOW__CORE__DAGS_FOLDER=str(folder),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{home}/airflow.db",
        AIRFLOW__DAG_FACTORY__ENABLE_TELEMETRY="False",
        DO_NOT_TRACK="1",
        SCARF_NO_ANALYTICS="1",
    )
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    return env


def run_worker(python: Path, args: list[str], env: dict[str, str]) -> dict[str, Any]:
    proc = subprocess.run(
        [str(python), str(WORKER), *args], capture_output=True, text=True, env=env, timeout=WORKER_TIMEOUT
    )
    if proc.returncode != 0 or not proc.stdout.strip():
        raise RuntimeError(f"worker {args[:2]} failed ({proc.returncode}): {_last_line(proc.stderr)}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def _median(values: list[float]) -> float:
    return round(statistics.median(values), 3)


def _summary(runs: list[dict[str, Any]], forks: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians of a variant's fresh-process runs. ``parse`` = DagBag + serialization of every DAG."""
    out: dict[str, Any] = {
        "parse_cpu_seconds": _median([r["dagbag_cpu_seconds"] + r["serialize_cpu_seconds"] for r in runs]),
        "parse_seconds": _median([r["dagbag_seconds"] + r["serialize_seconds"] for r in runs]),
        "dagbag_seconds": _median([r["dagbag_seconds"] for r in runs]),
        "serialize_seconds": _median([r["serialize_seconds"] for r in runs]),
        "parse_cpu_runs": [round(r["dagbag_cpu_seconds"] + r["serialize_cpu_seconds"], 3) for r in runs],
        "airflow_import_seconds": _median([r["airflow_import_seconds"] for r in runs]),
        "dags": runs[0]["dags"],
        "tasks": runs[0]["tasks"],
        "import_errors": runs[0]["import_errors"],
        "first_error": runs[0]["first_error"],
        "serialized_bytes": runs[0]["serialized_bytes"],
    }
    if forks:
        out["per_file"] = {
            "files_sampled": forks[0]["sampled"],
            "rounds": len(forks),
            "cpu_seconds": _median([f["per_file_cpu_median"] for f in forks]),
            "wall_seconds": _median([f["per_file_wall_median"] for f in forks]),
            "dags": forks[0]["dags"],
            "errors": forks[0]["errors"],
        }
    return out


def _package(filename: str) -> str:
    """A profiled function's package: ours, a site-packages top-level name, the stdlib, or a builtin."""
    if "airflow_provider_datalake/" in filename:
        return "ours: airflow_provider_datalake"
    if "site-packages/" in filename:
        top = filename.split("site-packages/", 1)[1].split("/", 1)[0]
        return top.removesuffix(".py").split(".", 1)[0]
    if filename == "~":
        return "builtins (marshal, json, re, os, ...)"
    if filename.startswith("<frozen"):
        return "import machinery"
    return "stdlib" if "/lib/python3" in filename else filename


def profile_groups(path: str, top: int = 10) -> dict[str, float]:
    """Self time of a cProfile run, by package: where the DagBag of our files spends its CPU."""
    stats = pstats.Stats(path).stats  # type: ignore[attr-defined]
    groups: dict[str, float] = {}
    for (filename, _, _), (_, _, tottime, _, _) in stats.items():
        label = _package(filename)
        groups[label] = groups.get(label, 0.0) + tottime
    ordered = sorted(groups.items(), key=lambda kv: -kv[1])
    return {k: round(v, 3) for k, v in ordered[:top]}


def profile_hotspots(path: str, under: str = "airflow_provider_datalake/", top: int = 8) -> list[str]:
    """Our functions by cumulative time (what they cost with everything they call)."""
    stats = pstats.Stats(path).stats  # type: ignore[attr-defined]
    rows = [
        (ct, nc, f"{Path(fn).relative_to(REPO) if fn.startswith(str(REPO)) else fn}:{line} {func}")
        for (fn, line, func), (_, nc, _, ct, _) in stats.items()
        if under in fn
    ]
    return [f"{ct:6.3f}s {nc:6d} calls  {where}" for ct, nc, where in sorted(rows, reverse=True)[:top]]


def _attempt(name: str, python: Path, args: list[str], env: dict[str, str]) -> dict[str, Any] | None:
    """A worker run; dag-factory's may fail (then it is reported, not fatal), ours must not."""
    try:
        return run_worker(python, args, env)
    except (RuntimeError, subprocess.TimeoutExpired) as exc:
        if not name.startswith("dagfactory"):
            raise
        say(f"  {name}: {exc}")
        return None


def bench_parse(n: int, repeats: int, fork_sample: int, dagfactory_venv: Path) -> dict[str, Any]:
    python = Path(sys.executable)
    result: dict[str, Any] = {"formats": n, "repeats": repeats, "load_start": os.getloadavg()}
    with tempfile.TemporaryDirectory(prefix="factory-bench-") as tmp:
        root = Path(tmp)
        (root / "home_probe").mkdir()
        probe_env = _worker_env(root / "home_probe", root, None)
        df_python, df_info = dagfactory_python(dagfactory_venv, probe_env)
        install: dict[str, Any] = {"available": df_python is not None, "pins": list(DAGFACTORY_PINS)}
        install["version" if df_python else "reason"] = df_info
        result["dagfactory_install"] = install
        folders = write_variants(root, n)
        result["descriptors"] = time_cache_reads(folders["ours"] / "datalake_formats.json", repeats)
        variants: dict[str, tuple[Path, Path | None]] = {
            "hand": (python, None),
            "hand_taskflow": (python, None),
            "floor": (python, None),
            "ours": (python, None),
            "ours_single": (python, None),
        }
        if df_python is not None:
            variants["dagfactory"] = (df_python, folders["pypath"])
            variants["dagfactory_folder"] = (df_python, folders["pypath"])
        runs: dict[str, list[dict[str, Any]]] = {name: [] for name in variants}
        forks: dict[str, list[dict[str, Any]]] = {name: [] for name in variants}
        homes = iter(range(1_000_000))

        def env(name: str) -> dict[str, str]:
            home = root / f"home_{next(homes)}"
            home.mkdir()
            return _worker_env(home, folders[name], variants[name][1])

        for round_no in range(repeats):  # interleaved: a burst of load on the machine hits every variant
            for name, (py, _) in variants.items():
                say(f"round {round_no + 1}/{repeats}: {name}: DagBag of {n} files ...")
                if (run := _attempt(name, py, ["bag", str(folders[name])], env(name))) is not None:
                    runs[name].append(run)
                if name in ("dagfactory_folder", "ours_single") or not runs[name]:  # one file: the DagBag
                    continue
                say(f"round {round_no + 1}/{repeats}: {name}: {fork_sample} files, one process each ...")
                fork_args = ["fork", str(folders[name]), "--sample", str(fork_sample)]
                if (fork := _attempt(name, py, fork_args, env(name))) is not None:
                    forks[name].append(fork)
        say("our files again, instrumented and profiled ...")
        instrumented = run_worker(python, ["bag", str(folders["ours"]), "--instrument"], env("ours"))
        per_file = run_worker(
            python, ["fork", str(folders["ours"]), "--sample", str(fork_sample), "--instrument"], env("ours")
        )
        profile = str(root / "ours.pstats")
        profiled = run_worker(python, ["bag", str(folders["ours"]), "--profile", profile], env("ours"))
        result["profile"] = {
            "profiled_parse_seconds": round(profiled["dagbag_seconds"] + profiled["serialize_seconds"], 3),
            "self_time_by_package": profile_groups(profile),
            "our_hotspots": profile_hotspots(profile),
        }
    for name, variant_runs in runs.items():
        if variant_runs:
            result[name] = _summary(variant_runs, forks[name])
    for name in ("dagfactory", "dagfactory_folder"):
        if name in variants and name not in result:
            install.update(available=False, reason=f"{name}: its DagBag worker failed (stderr says why)")
        elif name in result and result[name]["dags"] != n:
            problem = f"{name}: {result[name]['dags']} DAGs of {n}: {result[name]['first_error']}"
            install.setdefault("problems", []).append(problem)
    result["breakdown"] = breakdown(instrumented, result)
    result["per_file_breakdown"] = {k: round(v, 4) for k, v in per_file["per_file_steps_median"].items()}
    result["ratios"] = ratios(result)
    result["load_end"] = os.getloadavg()
    return result


def breakdown(inst: dict[str, Any], result: dict[str, Any]) -> dict[str, Any]:
    """Where one process parsing our 1,000 files spends its time: our imports (paid once per process),
    the cache read (JSON, DAG spec, validation where an entry has no spec), ``dag_from_spec`` net of
    imports (Airflow building the DAG), the DagBag's own rest (finding, reading, compiling and running
    the 1,000 modules) and serialization."""
    timers, imports = inst["timers"], inst["our_import_seconds"]
    building = timers.get("dag_for", 0.0)
    cache = timers.get("build_dag", 0.0) - building  # build_dag = cache read + dag_from_spec
    own_imports = sum(imports.values())
    dagbag = inst["dagbag_cpu_seconds"]
    out: dict[str, Any] = {
        "parse_cpu_seconds": round(dagbag + inst["serialize_cpu_seconds"], 3),
        "our_imports_seconds": {k: round(v, 3) for k, v in sorted(imports.items(), key=lambda kv: -kv[1])},
        "cache_read_seconds": round(cache, 3),
        "of_which_json_load_seconds": round(timers.get("cache_json_load", 0.0), 3),
        "of_which_validate_seconds": round(timers.get("descriptor_validate", 0.0), 3),
        "dag_for_seconds": round(building, 3),
        "airflow_dagbag_rest_seconds": round(dagbag - own_imports - cache - building, 3),
        "serialize_seconds": round(inst["serialize_cpu_seconds"], 3),
        # what the factory adds on its own: imports and the cache (not Airflow's DAG building)
        "factory_own_seconds": round(own_imports + cache, 3),
    }
    if "hand" in result and "ours" in result:
        out["ours_minus_hand_cpu_seconds"] = round(
            result["ours"]["parse_cpu_seconds"] - result["hand"]["parse_cpu_seconds"], 3
        )
    return out


def ratios(result: dict[str, Any]) -> dict[str, float]:
    """Baseline CPU seconds / ours (above 1: ours faster): one process for all files, and per file."""
    out: dict[str, float] = {}
    if "ours" not in result:
        return out
    ours = result["ours"]
    for base in ("ours_single", "hand", "hand_taskflow", "floor", "dagfactory", "dagfactory_folder"):
        if base not in result:
            continue
        out[f"parse_vs_{base}"] = round(result[base]["parse_cpu_seconds"] / ours["parse_cpu_seconds"], 3)
        if "per_file" in result[base] and "per_file" in ours:
            out[f"per_file_vs_{base}"] = round(
                result[base]["per_file"]["cpu_seconds"] / ours["per_file"]["cpu_seconds"], 3
            )
    return out


LABELS = {
    "ours": "ours (factory)",
    "ours_single": "ours, layout single (one file)",
    "hand": "hand-written, same DAG",
    "hand_taskflow": "hand-written, TaskFlow (the factory's before)",
    "floor": "Airflow's floor: one EmptyOperator per DAG",
    "dagfactory": "dag-factory, a loader per YAML",
    "dagfactory_folder": "dag-factory, one loader",
}

STEP_LABELS = {
    "import hooks.swift": "import hooks.swift (swiftclient, keystoneauth1, requests)",
    "import hooks.catalog": "import hooks.catalog (MongoHook, pymongo)",
    "import factory": "import factory (descriptors.model: pydantic models)",
    "import descriptors.store": "import descriptors.store",
    "dag_for": "dag_from_spec net of imports (Airflow building the DAG)",
    "build_dag": "build_dag net of imports (cache read + Airflow building the DAG)",
    "serialize": "serialization (DagSerialization.to_dict)",
    "cache_read_and_validate": "validation of one descriptor (entries without a DAG spec only)",
}


def parse_report(p: dict[str, Any]) -> list[str]:
    n, d, r, b = p["formats"], p["descriptors"], p["ratios"], p["breakdown"]
    ours_parse = p["ours"]["parse_cpu_seconds"] if "ours" in p else float("inf")
    goal = "met" if ours_parse <= 1 else "MISSED"
    rows = [
        f"{'cache reads of ' + str(n) + ' DAG files':<46} {d['seconds']:6.2f}s  "
        f"(JSON {d['json_load_seconds']:.3f}s; validating instead: {d.get('validating_seconds', 0):.2f}s)",
        f"parse of {n} formats, goal <= 1 s: {goal} ({ours_parse:.2f}s CPU, below)",
        f"one process parsing all {n} files (DagBag + serialization), CPU s (wall s):",
    ]
    for name, label in LABELS.items():
        if name in p:
            v = p[name]
            ratio = "" if name == "ours" else f"  ratio {r[f'parse_vs_{name}']:.2f}x"
            errors = f", {v['import_errors']} errors" if v["import_errors"] else ""
            rows.append(
                f"  {label:<44} {v['parse_cpu_seconds']:6.2f}s ({v['parse_seconds']:.2f}s)  "
                f"{v['dags']} DAGs{errors}{ratio}"
            )
    rows.append(f"as the dag-processor does it, one process per file: CPU s per file (x {n} files):")
    for name, label in LABELS.items():
        if name in p and "per_file" in p[name]:
            f = p[name]["per_file"]
            ratio = "" if name == "ours" else f"  ratio {r[f'per_file_vs_{name}']:.2f}x"
            rows.append(
                f"  {label:<44} {f['cpu_seconds']:6.3f}s  (x {n}: {f['cpu_seconds'] * n:6.0f}s){ratio}"
            )
    if "ours" in p and "per_file" in p["ours"] and "ours_single" in p:
        per_format = p["ours"]["per_file"]["cpu_seconds"] * n
        single = p["ours_single"]["parse_cpu_seconds"]
        rows.append(
            f"one dag-processor pass over our {n} formats, CPU s: a file per format {per_format:.0f}s, "
            f"layout single {single:.2f}s: {per_format / single:.0f}x less"
        )
    df = p["dagfactory_install"]
    if df["available"]:
        rows.append(f"dag-factory {df['version']}: its own venv ({', '.join(df['pins'])})")
    else:
        rows.append(f"dag-factory: not available: {df['reason']}")
    rows.extend(f"  {problem}" for problem in df.get("problems", []))
    rows.append(
        f"where one process parsing our {n} files spends {b['parse_cpu_seconds']:.2f}s CPU (instrumented):"
    )
    for label, key in (
        ("cache read (JSON once, then one spec each)", "cache_read_seconds"),
        ("dag_from_spec, net of imports (Airflow building)", "dag_for_seconds"),
        ("Airflow's DagBag rest (files, modules)", "airflow_dagbag_rest_seconds"),
        ("serialization (DagSerialization.to_dict)", "serialize_seconds"),
    ):
        rows.append(f"  {label:<44} {b[key]:6.2f}s")
    imports = ", ".join(f"{k} {v:.2f}s" for k, v in b["our_imports_seconds"].items())
    rows.append(
        f"  {'our imports, once per process':<44} {sum(b['our_imports_seconds'].values()):6.2f}s ({imports})"
    )
    rows.append(f"  {'=> the factory own (imports, cache)':<44} {b['factory_own_seconds']:6.2f}s")
    steps = p["per_file_breakdown"]
    rows.append("where one dag-processor process parsing one of our files spends its CPU (medians):")
    for key, value in sorted(steps.items(), key=lambda kv: -kv[1]):
        if value >= 0.001 and key not in ("cache_json_load", "descriptor_validate", "build_dag"):
            rows.append(f"  {STEP_LABELS.get(key, key):<60} {value:6.3f}s")
    prof = p["profile"]
    rows.append(
        f"self time by package (cProfile of the one-process parse, {prof['profiled_parse_seconds']:.2f}s):"
    )
    rows.extend(f"  {k:<44} {v:6.2f}s" for k, v in list(prof["self_time_by_package"].items())[:8])
    rows.append("our functions by cumulative time (same profile):")
    rows.extend(f"  {line}" for line in prof["our_hotspots"])
    return rows


def _api(path: str) -> dict:
    answer: dict = AirflowRest.from_env("viewer").get_json(f"/api/v2/{path}")
    return answer


def _wait(check: Any, timeout: float, poll: float = 0.1) -> float:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if check():
            return time.monotonic() - start
        time.sleep(poll)
    raise TimeoutError(f"not done after {timeout}s")


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def bench_latency(inserts: int) -> dict[str, Any]:
    import psycopg
    import yaml

    from airflow_provider_datalake import insert_datalake
    from airflow_provider_datalake.descriptors.model import Descriptor
    from airflow_provider_datalake.descriptors.store import FormatStore
    from airflow_provider_datalake.factory import install_dags_folder, sync_dags_folder
    from airflow_provider_datalake.hooks.catalog import CatalogHook
    from airflow_provider_datalake.samples import write_mqtt_dump

    repo = Path(__file__).resolve().parent.parent
    tag = uuid.uuid4().hex[:8]
    raw = yaml.safe_load((repo / "examples" / "neocampus_mqtt.yaml").read_text())
    raw["targets"] = raw["targets"][:1]  # the PostgreSQL target only: this measures commit-to-run latency
    raw["name"], raw["targets"][0]["schema"] = f"bench_{tag}", f"bench_{tag}"
    desc = Descriptor.model_validate(raw)
    dags = Path(os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
    store = FormatStore(CatalogHook())
    store.push(desc, author="bench")
    install_dags_folder(dags)
    sync_dags_folder(dags, force=True)
    dag_id = f"datalake__{desc.name}"
    pg_conn = json.loads(os.environ["AIRFLOW_CONN_POSTGRES_DEFAULT"])
    pg = psycopg.connect(
        host=pg_conn["host"],
        port=pg_conn["port"],
        user=pg_conn["login"],
        password=pg_conn["password"],
        dbname=pg_conn["schema"],
        autocommit=True,
    )
    queued, visible = [], []
    try:
        _wait(lambda: _dag_exists(dag_id), 120, poll=1)
        time.sleep(5)  # let the triggerer start the new watcher
        table = psycopg.sql.SQL("{}.mqtt_readings").format(psycopg.sql.Identifier(desc.targets[0].schema_))
        with tempfile.TemporaryDirectory() as tmp:
            for i in range(inserts):
                path = Path(tmp) / f"dump_{i}.json"
                write_mqtt_dump(path, 50, seed=1000 + i)
                runs_before = _runs(dag_id)
                rec = insert_datalake(path, format=desc.name)
                t0 = time.monotonic()
                queued.append(_wait(lambda b=runs_before: _runs(dag_id) > b, 120))
                visible.append(_elapsed_until(t0, lambda r=rec: _rows(pg, table, r), 180))
                print(
                    f"  insert {i + 1}/{inserts}: queued {queued[-1]:.1f}s, rows {visible[-1]:.1f}s",
                    file=sys.stderr,
                )
    finally:
        store.deactivate(desc.name)
        sync_dags_folder(dags, force=True)
        pg.execute(
            psycopg.sql.SQL("drop schema if exists {} cascade").format(psycopg.sql.Identifier(f"bench_{tag}"))
        )
        pg.close()
    return {
        "inserts": inserts,
        "queued_p50": round(statistics.median(queued), 2),
        "queued_p95": round(_pct(queued, 0.95), 2),
        "visible_p50": round(statistics.median(visible), 2),
        "visible_p95": round(_pct(visible, 0.95), 2),
    }


def _elapsed_until(t0: float, check: Any, timeout: float) -> float:
    _wait(check, timeout)
    return time.monotonic() - t0


def _dag_exists(dag_id: str) -> bool:
    try:
        return _api(f"dags/{dag_id}").get("is_paused") is False
    except OSError:
        return False


def _runs(dag_id: str) -> int:
    return int(_api(f"dags/{dag_id}/dagRuns?limit=1").get("total_entries", 0))


def _rows(pg: Any, table: Any, rec: dict) -> bool:
    import psycopg

    try:
        q = psycopg.sql.SQL("select 1 from {} where _raw_object_id = %s limit 1").format(table)
        return pg.execute(q, (rec["_id"],)).fetchone() is not None
    except psycopg.errors.UndefinedTable:
        return False


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(
        prog="python -m bench.factory_bench", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--n-formats", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3, help="fresh-process DagBag runs per variant")
    parser.add_argument("--fork-sample", type=int, default=30, help="files parsed one per process")
    parser.add_argument("--dagfactory-venv", type=Path, default=DAGFACTORY_VENV)
    parser.add_argument("--inserts", type=int, default=20)
    parser.add_argument("--parse-only", action="store_true")
    args = parser.parse_args(argv)
    results: dict[str, Any] = {
        "parse": bench_parse(args.n_formats, args.repeats, args.fork_sample, args.dagfactory_venv)
    }
    print(
        f"\n== DAG factory parse ({args.n_formats} formats; medians of {args.repeats} fresh processes per "
        "variant, CPU seconds, robust to other load; ratio = baseline / ours, above 1: ours faster) =="
    )
    print("\n".join(parse_report(results["parse"])))
    if not args.parse_only:
        results["latency"] = lat = bench_latency(args.inserts)
        print(
            f"commit -> run queued   p50 {lat['queued_p50']:.1f}s  p95 {lat['queued_p95']:.1f}s "
            "(goal p50 <= 5 s)\n"
            f"commit -> rows visible p50 {lat['visible_p50']:.1f}s  p95 {lat['visible_p95']:.1f}s"
        )
    out = Path(__file__).resolve().parent / "results" / "factory.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    return results


if __name__ == "__main__":
    main()
