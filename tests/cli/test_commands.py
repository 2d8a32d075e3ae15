"""The `datalake` command line on the real stack, through click's CliRunner (and once as the installed
script).

Each test gets its own catalog database and Swift container behind connection ids `swift_test` /
`mongo_test`, passed as the global options that come before the subcommand.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import re
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from airflow_provider_datalake import __version__
from airflow_provider_datalake.cli import cli, context, objects, render
from airflow_provider_datalake.hooks.catalog import CatalogHook, Status, utcnow
from airflow_provider_datalake.hooks.swift import SwiftHook
from airflow_provider_datalake.hooks.swift_client import SwiftClient
from airflow_provider_datalake.samples import write_mqtt_dump, write_sample_set
from datalake_catalog.catalog import Catalog
from tests.conftest import sigint_as_at_a_terminal

pytestmark = pytest.mark.stack

SCRIPT = Path(sys.executable).with_name("datalake")
REPO = Path(__file__).resolve().parents[2]
SAMPLE_NAMES = {
    "mqtt_dump_0001.json",
    "mqtt_stream_0001.jsonl",
    "sensor_readings_0001.json",
    "lab_export_fr_0001.csv",
    "lab_export_en_0001.csv",
    "campus_photo_0001.png",
}
RECORD_FIELDS = {
    "_id",
    "status",
    "format",
    "content_type",
    "original_object_name",
    "swift_user",
    "swift_container",
    "swift_object_id",
    "sha256",
    "size",
    "dedupe_key",
    "creation_date",
    "last_modified",
    "application",
    "other_data",
    "successful_operations",
    "failed_operations",
    "processed_data_area_service",
}


def datalake(*args: str, code: int = 0) -> Result:
    """Run `datalake --swift-conn-id swift_test --mongo-conn-id mongo_test ARGS`, expecting `code`."""
    result = CliRunner().invoke(
        cli, ["--swift-conn-id", "swift_test", "--mongo-conn-id", "mongo_test", *args]
    )
    detail = f"exit {result.exit_code}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    assert result.exit_code == code, f"{detail}\nexception: {result.exception!r}"
    return result


def catalog_records() -> list[dict]:
    return list(CatalogHook("mongo_test").raw_objects.find({}))


def json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def run(*args: str) -> Result:
    """The CLI with the global options given as they are (to name a broken or missing connection)."""
    return CliRunner().invoke(cli, list(args))


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def broken(lake: dict, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Connection ids `mongo_down` (nothing listens; gives up within 0.3 s) and `swift_badpw` (the stack's
    Swift, a wrong password), beside the lake's good ones."""
    port = closed_port()
    mongo = {"conn_type": "mongo", "host": "127.0.0.1", "port": port, "schema": lake["database"]}
    mongo["extra"] = {"srv": False, "ssl": False, "serverSelectionTimeoutMS": 300}
    swift = {**json.loads(os.environ["AIRFLOW_CONN_SWIFT_TEST"]), "password": "not-the-password-x7"}
    monkeypatch.setenv("AIRFLOW_CONN_MONGO_DOWN", json.dumps(mongo))
    monkeypatch.setenv("AIRFLOW_CONN_SWIFT_BADPW", json.dumps(swift))
    return {"mongo_address": f"127.0.0.1:{port}", "password": swift["password"]}


def one_error_line(result: Result) -> str:
    """The single stderr line of a command the world failed: exit 1, no traceback."""
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), (
        result.exception,
        result.stderr,
    )
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


@pytest.fixture
def samples(tmp_path: Path) -> list[Path]:
    return write_sample_set(tmp_path / "samples", seed=7)


# -- the installed script --------------------------------------------------------------------------------


def test_installed_script_help_and_version() -> None:
    assert SCRIPT.exists(), f"{SCRIPT} is missing: `make install` installs the package and its script"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW_CONN_")}
    help_run = subprocess.run([str(SCRIPT), "--help"], capture_output=True, text=True, timeout=120, env=env)
    assert help_run.returncode == 0, help_run.stderr
    for word in ("insert", "objects", "reconcile", "samples", "--swift-conn-id", "--mongo-conn-id"):
        assert word in help_run.stdout, word
    version = subprocess.run([str(SCRIPT), "--version"], capture_output=True, text=True, timeout=120, env=env)
    assert version.returncode == 0, version.stderr
    assert version.stdout.strip() == f"datalake, version {__version__}"


def _script(lake: dict, *args: str) -> tuple[subprocess.CompletedProcess[str], list[str], list[str]]:
    """The installed script on the lake's connections (AIRFLOW_CONN_* JSON), under `python -X importtime`:
    the run, its stderr lines but the import times, and the modules of Airflow it imported."""
    conns = ["--swift-conn-id", "swift_test", "--mongo-conn-id", "mongo_test"]
    run = subprocess.run(
        [sys.executable, "-X", "importtime", str(SCRIPT), *conns, *args],
        env=lake["env"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    said, modules = [], []
    for line in run.stderr.splitlines():
        if line.startswith("import time:"):
            modules.append(line.rsplit("|", 1)[-1].strip())
        else:
            said.append(line)
    assert run.returncode == 0, "\n".join(said)
    assert "airflow_provider_datalake.cli" in modules  # the listing is there: an empty one proves nothing
    return run, said, [name for name in modules if name == "airflow" or name.startswith("airflow.")]


def test_insert_v_on_environment_connections_says_so_and_imports_no_airflow(
    lake: dict, tmp_path: Path
) -> None:
    path = tmp_path / "one.bin"
    path.write_bytes(os.urandom(1024))
    run, said, airflow = _script(lake, "insert", "-v", str(path), "--container", lake["container"], "--json")
    assert said[:2] == [
        "connection swift_test: environment (AIRFLOW_CONN_SWIFT_TEST)",
        "connection mongo_test: environment (AIRFLOW_CONN_MONGO_TEST)",
    ]
    assert airflow == []
    [rec] = json_lines(run.stdout)
    assert CatalogHook("mongo_test").get(rec["_id"])["status"] == "committed"
    password = json.loads(lake["env"]["AIRFLOW_CONN_SWIFT_TEST"])["password"]
    assert password not in run.stdout + run.stderr


def test_objects_list_and_version_v_on_environment_connections_import_no_airflow(lake: dict) -> None:
    _, said, airflow = _script(lake, "objects", "list", "-v")
    assert said[0] == "connection mongo_test: environment (AIRFLOW_CONN_MONGO_TEST)"
    assert not any("swift_test" in line for line in said)  # a listing reads the catalog only
    assert airflow == []
    version, said, airflow = _script(lake, "--version", "-v")
    assert version.stdout == f"datalake, version {__version__}\n"
    assert said == [
        "connection swift_test: environment (AIRFLOW_CONN_SWIFT_TEST)",
        "connection mongo_test: environment (AIRFLOW_CONN_MONGO_TEST)",
    ]
    assert airflow == []


def test_v_says_which_connections_are_left_to_airflow_and_why(
    lake: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A connection not in the environment, or whose value is none this package reads, is Airflow's: it
    decides as it always did (here: not defined). The reason never shows the value."""
    odd = {"conn_type": "mongo", "host": "127.0.0.1", "port": "x1", "password": "hidden-pw-x9"}
    monkeypatch.setenv("AIRFLOW_CONN_MONGO_ODD", json.dumps(odd))
    result = run("-v", "--mongo-conn-id", "mongo_odd", "objects", "list")
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "connection mongo_odd: Airflow (metadata database / secrets backend); "
        "AIRFLOW_CONN_MONGO_ODD: port is not an integer: left to Airflow",
        "error: the connection 'mongo_odd' is not defined: source the stack's env file (.stack/env) "
        "or define it in Airflow",
    ]
    assert "hidden-pw-x9" not in result.output
    result = run("--mongo-conn-id", "nosuch", "objects", "list", "-v")
    assert result.stderr.splitlines()[0] == "connection nosuch: Airflow (metadata database / secrets backend)"
    quiet = run("--mongo-conn-id", "mongo_test", "objects", "list")
    assert quiet.exit_code == 0 and "connection" not in quiet.stderr  # without -v, nothing is said


def test_ctrl_c_after_the_summary_ends_quietly(lake: dict, samples: list[Path]) -> None:
    """A Ctrl-C while the interpreter tears down (after the outcome is printed) shows no traceback."""
    args = ["--swift-conn-id", "swift_test", "--mongo-conn-id", "mongo_test", "insert", str(samples[0])]
    proc = subprocess.Popen(
        [str(SCRIPT), *args, "--container", lake["container"]],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=lake["env"],
        preexec_fn=sigint_as_at_a_terminal,
    )
    seen = ""
    while "1 inserted, 0 failed" not in seen and (line := proc.stderr.readline()):  # type: ignore[union-attr]
        seen += line
    proc.send_signal(signal.SIGINT)
    _, rest = proc.communicate(timeout=60)
    assert "1 inserted, 0 failed" in seen, seen + rest
    assert "Traceback" not in rest and "KeyboardInterrupt" not in rest, rest
    assert proc.returncode in (0, -signal.SIGINT)  # ended by the signal, as any program, unless already gone


@pytest.mark.parametrize("jobs", [1, 8])
def test_sigterm_rolls_back_the_file_in_flight_and_exits_143(lake: dict, tmp_path: Path, jobs: int) -> None:
    """`kill PID` takes Ctrl-C's path under the script: the summary is printed, the inserts in flight
    rolled back, so no pending record waits for its lease and no object is left without its record."""
    files = []
    for n in range(6 * jobs if jobs > 1 else 6):
        files.append(tmp_path / f"big{n}.bin")
        files[-1].write_bytes(os.urandom(4 * 1024 * 1024))  # SLOs of 1 MiB segments in the lake
    args = ["--swift-conn-id", "swift_test", "--mongo-conn-id", "mongo_test", "insert", *map(str, files)]
    proc = subprocess.Popen(
        [str(SCRIPT), *args, "--container", lake["container"], "--no-dedupe", "--json", "--jobs", str(jobs)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=lake["env"],
    )
    first = proc.stdout.readline()  # type: ignore[union-attr]
    proc.send_signal(signal.SIGTERM)
    rest, err = proc.communicate(timeout=60)
    assert json.loads(first)["original_object_name"] == "big0.bin", first + err
    assert proc.returncode == 143, err
    assert "Traceback" not in err and "inserted," in err and "not attempted" in err, err
    counts = re.search(r"(\d+) inserted, (\d+) failed, (\d+) not attempted", err)
    assert counts, err
    inserted, failed, not_tried = map(int, counts.groups())
    assert inserted == 1 + len(json_lines(rest)) and inserted + failed + not_tried == len(files), err
    records = catalog_records()
    assert {r["status"] for r in records} == {"committed"}  # no pending record left for its lease
    assert len(records) == 1 + len(json_lines(rest))
    named = {r["swift_object_id"] for r in records}
    swift = SwiftHook("swift_test")
    assert {o["name"] for o in swift.list_objects(lake["container"])} <= named
    segments = {o["name"].rsplit("/", 1)[0] for o in swift.list_objects(f"{lake['container']}_segments")}
    assert segments <= named


# -- insert ----------------------------------------------------------------------------------------------


def test_insert_two_files_with_format_container_and_meta(lake: dict, samples: list[Path]) -> None:
    files = [samples[0], samples[3]]
    result = datalake(
        "insert",
        *map(str, files),
        "--format",
        "neocampus_mqtt",
        "--container",
        lake["container"],
        "--application",
        "cli-test",
        "--meta",
        "campaign=2021-07",
        "--meta",
        "building=u4",
        "--meta",
        "note=a=b",  # only the first '=' splits
    )
    assert "2 inserted, 0 failed" in result.stderr
    records = catalog_records()
    assert len(records) == 2
    by_name = {r["original_object_name"]: r for r in records}
    assert set(by_name) == {f.name for f in files}
    swift = SwiftHook("swift_test")
    for path in files:
        rec = by_name[path.name]
        assert rec["status"] == Status.COMMITTED.value
        assert rec["format"] == "neocampus_mqtt"
        assert rec["application"] == "cli-test"
        assert rec["swift_container"] == lake["container"]
        assert rec["size"] == path.stat().st_size
        assert rec["other_data"] == {"campaign": "2021-07", "building": "u4", "note": "a=b"}
        assert b"".join(swift.iter_object(lake["container"], rec["swift_object_id"])) == path.read_bytes()
        assert rec["_id"] in result.stdout  # the table names each record (whole ids, not folded)
    assert "2 inserted" in result.stdout


def test_insert_json_prints_the_committed_records(lake: dict, samples: list[Path]) -> None:
    result = datalake("insert", str(samples[5]), "--container", lake["container"], "--json")
    decoder, text, docs = json.JSONDecoder(), result.stdout.strip(), []
    while text:
        doc, end = decoder.raw_decode(text)
        docs.append(doc)
        text = text[end:].strip()
    assert len(docs) == 1
    assert docs[0]["status"] == "committed" and docs[0]["format"] is None
    assert docs[0]["content_type"] == "image/png"
    assert docs[0]["_id"] == catalog_records()[0]["_id"]
    assert "1 inserted, 0 failed" in result.stderr
    assert dt.datetime.fromisoformat(docs[0]["creation_date"]).utcoffset() == dt.timedelta(0)  # aware UTC


def test_insert_with_a_missing_file_inserts_the_good_one_and_fails(
    lake: dict, samples: list[Path], tmp_path: Path
) -> None:
    missing = tmp_path / "not_there.json"
    result = datalake(
        "insert",
        str(samples[0]),
        str(missing),
        "--format",
        "neocampus_mqtt",
        "--container",
        lake["container"],
        code=1,
    )
    assert "1 inserted, 1 failed" in result.stderr
    failed = [line for line in result.stderr.splitlines() if line.startswith("failed")]
    assert len(failed) == 1 and str(missing) in failed[0] and "not found" in failed[0]
    records = catalog_records()
    assert [r["original_object_name"] for r in records] == [samples[0].name]
    assert records[0]["status"] == "committed"


def test_insert_the_same_content_twice_keeps_one_copy(lake: dict, samples: list[Path]) -> None:
    args = ("insert", str(samples[1]), "--format", "neocampus_mqtt_jsonl", "--container", lake["container"])
    first = datalake(*args)
    again = datalake(*args)
    assert "0 inserted, 1 already stored, 0 failed" in again.stderr
    record_id = catalog_records()[0]["_id"]
    assert f"already stored {samples[1]}: same content and format as record {record_id}" in again.stderr
    assert record_id in first.stdout and record_id not in again.stdout  # not listed as inserted
    assert len(catalog_records()) == 1
    datalake(*args, "--no-dedupe")
    assert len(catalog_records()) == 2


def test_file_names_with_brackets_are_shown_as_they_are(
    lake: dict, samples: list[Path], tmp_path: Path
) -> None:
    """Names are data, not rich markup: "[bold]" is kept, a "[/red]" in a path does not crash the report."""
    odd = tmp_path / "photo[bold].csv"
    odd.write_bytes(samples[3].read_bytes())
    (tmp_path / "a[").mkdir()
    missing = tmp_path / "a[" / "red].csv"  # the path reads "...a[/red].csv"
    result = datalake("insert", str(odd), str(missing), "--container", lake["container"], code=1)
    assert "1 inserted, 1 failed" in result.stderr
    assert "photo[bold].csv" in result.stdout
    failed = [line for line in result.stderr.splitlines() if line.startswith("failed")]
    assert len(failed) == 1 and f"{missing}: file not found: {missing}" in failed[0]
    assert [r["original_object_name"] for r in catalog_records()] == ["photo[bold].csv"]
    assert "photo[bold].csv" in datalake("objects", "list").stdout
    assert "no raw object [/red]" in datalake("objects", "show", "[/red]", code=1).stderr


@pytest.mark.parametrize("bad", ["campaign", "=2021-07", ""])
def test_bad_meta_is_a_usage_error_before_anything_is_stored(
    lake: dict, samples: list[Path], bad: str
) -> None:
    result = datalake(
        "insert", str(samples[0]), "--container", lake["container"], "--meta", "ok=1", "--meta", bad, code=2
    )
    assert "--meta" in result.stderr and "expected key=value" in result.stderr
    assert catalog_records() == []


def test_a_meta_key_given_twice_is_a_usage_error(lake: dict, samples: list[Path]) -> None:
    result = datalake(
        "insert", str(samples[0]), "--container", lake["container"], "--meta", "k=1", "--meta", "k=2", code=2
    )
    assert "--meta" in result.stderr and "key 'k' given twice" in result.stderr
    assert catalog_records() == []


def test_insert_warns_once_when_the_format_has_no_active_descriptor(lake: dict, samples: list[Path]) -> None:
    """Stored anyway (the raw zone keeps everything), but the user learns that nothing will process it."""
    from airflow_provider_datalake.descriptors.loader import parse_descriptor
    from airflow_provider_datalake.descriptors.store import DRAFT, FormatStore

    args = ("--container", lake["container"], "--no-dedupe")
    result = datalake("insert", str(samples[0]), str(samples[1]), "--format", "nuevo_fmt", *args)
    assert "2 inserted, 0 failed" in result.stderr
    assert result.stderr.count("no active descriptor") == 1
    assert (
        "no active descriptor for format 'nuevo_fmt': stored, but no DAG will process it until one is added "
        "(`datalake formats push nuevo_fmt.yaml`" in result.stderr
    )
    assert {r["format"] for r in catalog_records()} == {"nuevo_fmt"}

    store = FormatStore(CatalogHook("mongo_test"))
    desc = parse_descriptor((REPO / "examples" / "neocampus_mqtt.yaml").read_text(), source_name="example")
    store.push(desc.model_copy(update={"name": "drafted_fmt"}), status=DRAFT)
    drafted = datalake("insert", str(samples[0]), "--format", "drafted_fmt", *args).stderr
    assert "no active descriptor for format 'drafted_fmt'" in drafted
    assert "`datalake formats approve drafted_fmt`" in drafted
    store.push(desc)
    assert (
        "no active descriptor" not in datalake("insert", str(samples[0]), "--format", desc.name, *args).stderr
    )
    assert "no active descriptor" not in datalake("insert", str(samples[0]), *args).stderr  # no --format


def test_insert_logs_go_to_the_console_warnings_only(
    lake: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Above the SLO threshold the hook logs an INFO line: it must not tear the bar nor land among the JSON
    lines of stdout. A warning still reaches the user, on stderr."""
    real_put = SwiftClient.put_object

    def put_with_a_warning(self: SwiftClient, *args: object, **kwargs: object) -> object:
        self.log.warning("swift says %s", "careful")
        return real_put(self, *args, **kwargs)

    monkeypatch.setattr(SwiftClient, "put_object", put_with_a_warning)
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(3 * 1024 * 1024 // 2))  # over the lake's 1 MiB SLO threshold
    result = datalake("insert", str(big), "--container", lake["container"], "--json")
    assert [d["size"] for d in json_lines(result.stdout)] == [big.stat().st_size]  # nothing else on stdout
    assert "SLO" not in result.stdout + result.stderr
    assert "swift says careful" in result.stderr


def test_insert_ctrl_c_reports_what_was_inserted_and_exits_130(
    lake: dict, samples: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C during the second file: the first is listed (a JSON line as it commits), the rest not tried."""
    import airflow_provider_datalake.ingest as ingest

    real, calls = ingest.insert_datalake, []

    def interrupted_on_second(*args: object, **kwargs: object) -> dict:
        calls.append(args[0])
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(ingest, "insert_datalake", interrupted_on_second)
    files = list(map(str, samples[:3]))
    result = datalake("insert", *files, "--container", lake["container"], "--json", "--jobs", "1", code=130)
    assert [d["original_object_name"] for d in json_lines(result.stdout)] == [samples[0].name]
    assert f"failed {files[1]}: interrupted" in result.stderr
    assert "1 inserted, 1 failed, 1 not attempted" in result.stderr
    assert len(calls) == 2
    assert [r["original_object_name"] for r in catalog_records()] == [samples[0].name]


def test_insert_jobs_lists_the_records_in_the_order_of_the_files(lake: dict, tmp_path: Path) -> None:
    files = []
    for n in range(20):
        files.append(tmp_path / f"r{n:02d}.bin")
        files[-1].write_bytes(os.urandom((3 << 20) if n % 7 == 0 else 1024))  # a slow one now and then
    files.insert(5, tmp_path / "missing.bin")
    result = datalake(
        "insert", *map(str, files), "--container", lake["container"], "--json", "--jobs", "8", code=1
    )
    assert [d["original_object_name"] for d in json_lines(result.stdout)] == [
        f.name for f in files if f.name != "missing.bin"
    ]
    assert "20 inserted, 1 failed" in result.stderr and "missing.bin" in result.stderr
    assert {r["status"] for r in catalog_records()} == {"committed"} and len(catalog_records()) == 20


def test_insert_jobs_out_of_range_is_a_usage_error(lake: dict, samples: list[Path]) -> None:
    for jobs in ("0", "65", "x"):
        assert "--jobs" in datalake("insert", str(samples[0]), "--jobs", jobs, code=2).stderr
    assert catalog_records() == []


def test_insert_usage_errors(lake: dict) -> None:
    assert "Missing argument" in datalake("insert", code=2).stderr
    assert "No such option" in datalake("insert", "--bogus", "x", code=2).stderr


@pytest.mark.parametrize("bad", ["a.b=1", "$x=2"])
def test_meta_keys_the_catalog_cannot_store_are_usage_errors(
    lake: dict, samples: list[Path], bad: str
) -> None:
    result = datalake("insert", str(samples[0]), "--container", lake["container"], "--meta", bad, code=2)
    assert "--meta" in result.stderr and "no '.' in a key and no '$' first" in result.stderr
    assert "unreachable" not in result.stderr
    assert catalog_records() == []


@pytest.mark.parametrize(
    ("container", "reason"),
    [("", "empty container name"), ("c" * 249, "is 249 characters long, 241 at most")],
)
def test_a_bad_container_is_a_usage_error_saying_why(
    lake: dict, samples: list[Path], container: str, reason: str
) -> None:
    result = datalake("insert", str(samples[0]), "--container", container, code=2)
    assert "--container" in result.stderr and reason in result.stderr, result.stderr
    assert "letters, digits" not in result.stderr
    assert catalog_records() == []


def test_a_bad_format_is_one_usage_error_before_any_file(lake: dict, samples: list[Path]) -> None:
    files = list(map(str, samples[:3]))
    result = datalake("insert", *files, "--format", "Bad-Format", "--container", lake["container"], code=2)
    assert result.stderr.count("expected a lower-case identifier") == 1 and "--format" in result.stderr
    assert catalog_records() == []


def test_insert_of_a_directory_hints_at_its_files(lake: dict, tmp_path: Path) -> None:
    result = datalake("insert", str(tmp_path), "--container", lake["container"], code=1)
    assert f"(a directory: pass its files, e.g. {tmp_path}{os.sep}*)" in result.stderr


def test_insert_ctrl_c_before_any_file_says_nothing_was_stored(
    lake: dict, samples: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Ctrl-C while the clients are made (Airflow imported, if a connection needs it; before any file is
    tried): no "Aborted!", exit 130."""

    def ctrl_c(_ctx: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(context, "hooks", ctrl_c)
    monkeypatch.setattr(context, "catalog", ctrl_c)
    result = datalake("insert", str(samples[0]), "--container", lake["container"], code=130)
    assert result.stderr.strip() == "interrupted: nothing was stored"
    listing = datalake("objects", "list", code=130)
    assert listing.stderr.strip() == "interrupted"


def test_insert_help_says_ctrl_c_rolls_back_the_file_in_flight() -> None:
    text = " ".join(CliRunner().invoke(cli, ["insert", "--help"]).stdout.split())
    assert "Ctrl-C stops at once: the file in flight is rolled back, the ones before it stay" in text
    assert "after the file in flight" not in text


def test_insert_stops_at_the_first_file_when_a_store_is_unreachable_or_refuses(
    broken: dict[str, str], lake: dict, samples: list[Path]
) -> None:
    """Every next file would wait for the same timeout: not attempted, one short line, exit 1."""
    files = list(map(str, samples[:4]))
    down = run("--mongo-conn-id", "mongo_down", "--swift-conn-id", "swift_test", "insert", *files)
    assert down.exit_code == 1, down.stderr
    assert "0 inserted, 1 failed, 3 not attempted" in down.stderr
    assert "not attempted: 3 files (catalog unreachable)" in down.stderr
    failed = [line for line in down.stderr.splitlines() if line.startswith("failed")]
    assert failed == [
        f"failed {files[0]}: catalog (MongoDB) unreachable at {broken['mongo_address']}: "
        "[Errno 111] Connection refused (gave up after 0.3 s)"
    ]
    assert "Topology" not in down.stderr

    container = ("--container", lake["container"], "--no-dedupe")
    refused = run(
        "--swift-conn-id", "swift_badpw", "--mongo-conn-id", "mongo_test", "insert", *files, *container
    )
    assert refused.exit_code == 1 and "0 inserted, 1 failed, 3 not attempted" in refused.stderr
    assert "Swift refused user 'test:tester'" in refused.stderr and broken["password"] not in refused.stderr
    assert catalog_records() == []


def test_dedupe_is_lake_wide_and_says_where_the_content_is(lake: dict, samples: list[Path]) -> None:
    first = json_lines(datalake("insert", str(samples[0]), "--container", lake["container"], "--json").stdout)
    assert first[0]["already_stored"] is False
    other = f"{lake['container']}-b"
    try:
        again = datalake("insert", str(samples[0]), "--container", other, "--json")
        (hit,) = json_lines(again.stdout)
        assert hit["already_stored"] is True and hit["_id"] == first[0]["_id"]
        assert f"in container {lake['container']}, not stored twice (dedupe is lake-wide" in again.stderr
    finally:
        swift = SwiftHook("swift_test")
        for name in (other, f"{other}_segments"):
            with contextlib.suppress(Exception):  # not there when nothing reached it
                swift.get_conn().delete_container(name)


# -- objects list / show ---------------------------------------------------------------------------------


@pytest.fixture
def populated(lake: dict, tmp_path: Path) -> dict[str, dict]:
    """Three committed records over two formats, inserted in order, plus a pending and a processing one."""
    names = {}
    for name, fmt, seed in (
        ("a.json", "neocampus_mqtt", 1),
        ("b.json", "other_fmt", 2),
        ("c.json", "neocampus_mqtt", 3),
    ):
        path = tmp_path / name
        write_mqtt_dump(path, 20, seed=seed)
        datalake("insert", str(path), "--format", fmt, "--container", lake["container"], "--meta", "k=[v]")
    catalog = CatalogHook("mongo_test")
    for rec in catalog_records():
        names[rec["original_object_name"]] = rec
    now = utcnow()
    pending = {
        **names["a.json"],
        "_id": uuid.uuid4().hex,
        "status": "pending",
        "swift_object_id": "x/pending",
        "dedupe_key": "unique:p",
        "original_object_name": "p.json",
        "lease_until": now + dt.timedelta(minutes=10),
    }
    catalog.raw_objects.insert_one(pending)
    names["p.json"] = pending
    names["c.json"] = catalog.transition(names["c.json"]["_id"], Status.COMMITTED, Status.PROCESSING)
    return names


def test_objects_list_table(populated: dict[str, dict]) -> None:
    out = datalake("objects", "list").stdout
    assert "raw objects (3 shown)" in out
    for name in ("a.json", "b.json", "c.json"):
        assert populated[name]["_id"] in out and name in out
    assert populated["p.json"]["_id"] not in out  # pending records are not visible
    assert "processing" in out and "neocampus_mqtt" in out and "other_fmt" in out


@pytest.mark.parametrize("width", [80, 100, 160])
def test_records_table_fits_the_terminal_with_whole_ids(width: int) -> None:
    """An 80-column terminal folds no id, status, size or date; wide output keeps one line per record."""
    from io import StringIO

    from rich.console import Console

    recs = [
        {
            "_id": uuid.uuid4().hex,
            "status": "committed",
            "format": "neocampus_mqtt_with_a_long_descriptor_name",
            "size": size,
            "original_object_name": name,
            "creation_date": dt.datetime(2026, 11, 29, 5, 45, 7),
        }
        for size, name in (
            (972, "a.csv"),
            (312_000_000, "lab_export_2026_11_29_building_u4_second_floor.csv"),
        )
    ]
    console = Console(file=StringIO(), width=width)
    console.print(render.records_table(recs, "raw objects", width=width))
    lines = console.file.getvalue().splitlines()
    assert max(map(len, lines)) <= width
    text = "\n".join(lines)
    for rec in recs:
        assert rec["_id"] in text and "committed" in text and "2026-11-29 05:45" in text
    if width < render.WIDE:
        assert "972 B" in text and "312.0 MB" in text
        assert "a.csv" in text and "lab_export" in text
    else:
        assert sum(recs[1]["_id"] in line and "312000000" in line for line in lines) == 1
        assert "a.csv" in text and "lab_export" in text


def test_objects_list_json_is_one_record_per_line_newest_first(populated: dict[str, dict]) -> None:
    docs = json_lines(datalake("objects", "list", "--json").stdout)
    assert [d["original_object_name"] for d in docs] == ["c.json", "b.json", "a.json"]
    for doc in docs:
        assert set(doc) >= RECORD_FIELDS
        assert doc["other_data"] == {"k": "[v]"}  # printed as is, not read as markup
        assert dt.datetime.fromisoformat(doc["creation_date"]).utcoffset() == dt.timedelta(0)
    assert docs[-1]["_id"] == populated["a.json"]["_id"]


def test_objects_list_pages_by_the_last_id_shown(populated: dict[str, dict]) -> None:
    first = datalake("objects", "list", "--limit", "2")
    after = populated["b.json"]["_id"]
    assert f"next page: --after {after}" in first.stderr
    docs = json_lines(datalake("objects", "list", "--json", "--limit", "2", "--after", after).stdout)
    assert [d["original_object_name"] for d in docs] == ["a.json"]
    last = datalake("objects", "list", "--limit", "2", "--after", populated["a.json"]["_id"])
    rest = last.stdout
    assert "next page" not in last.stderr
    assert "raw objects (0 shown)" in rest
    missing = datalake("objects", "list", "--after", "no-such-id", code=1)
    assert "no record no-such-id to list after" in missing.stderr


def test_catalog_init_creates_the_indexes_and_lists_containers(
    lake: dict, populated: dict[str, dict]
) -> None:
    from airflow_provider_datalake.hooks.catalog import INDEXES, RAW_OBJECTS

    out = datalake("catalog", "init").stdout
    for model in INDEXES:
        assert model.document["name"] in out
    assert lake["container"] in out
    info = CatalogHook("mongo_test").db[RAW_OBJECTS].index_information()
    assert {m.document["name"] for m in INDEXES} <= set(info)
    again = datalake("catalog", "init").stdout.split()
    assert again.count("exists") == len(INDEXES) and "created" not in again  # the second time, all exist


def test_catalog_stats_counts_each_format_s_states(populated: dict[str, dict]) -> None:
    counts = json.loads(datalake("catalog", "stats", "--json").stdout)
    assert counts == {
        "neocampus_mqtt": {"committed": 1, "processing": 1, "pending": 1},
        "other_fmt": {"committed": 1},
    }
    table = datalake("catalog", "stats", "--format", "other_fmt").stdout
    assert "other_fmt" in table and "neocampus_mqtt" not in table


def test_objects_list_filters(populated: dict[str, dict]) -> None:
    def names(*args: str) -> list[str]:
        return [
            d["original_object_name"] for d in json_lines(datalake("objects", "list", "--json", *args).stdout)
        ]

    assert names("--format", "neocampus_mqtt") == ["c.json", "a.json"]
    assert names("--format", "other_fmt") == ["b.json"]
    assert names("--format", "nothing") == []
    assert names("--status", "committed") == ["b.json", "a.json"]
    assert names("--status", "processing") == ["c.json"]
    assert names("--status", "pending") == ["p.json"]
    assert names("--status", "committed", "--format", "neocampus_mqtt") == ["a.json"]
    assert names("--limit", "1") == ["c.json"]  # the newest
    assert names("--limit", "0") == ["c.json", "b.json", "a.json"]  # 0: all
    assert "'bogus' is not one of" in datalake("objects", "list", "--status", "bogus", code=2).stderr
    assert "--limit" in datalake("objects", "list", "--limit", "-1", code=2).stderr
    assert "raw objects (0 shown)" in datalake("objects", "list", "--status", "deleted").stdout


def test_objects_list_status_choices_are_the_catalog_s_states() -> None:
    """The CLI spells the states out (importing the catalog would slow `--help`): they must not drift."""
    (param,) = [p for p in objects.objects_list.params if p.name == "status"]
    assert set(param.type.choices) == {s.value for s in Status}


def test_objects_show(populated: dict[str, dict]) -> None:
    rec = populated["b.json"]
    doc = json.loads(datalake("objects", "show", rec["_id"]).stdout)
    assert set(doc) >= RECORD_FIELDS
    assert doc["_id"] == rec["_id"]
    assert doc["status"] == "committed"
    assert doc["format"] == "other_fmt"
    assert doc["swift_object_id"] == rec["swift_object_id"]
    assert doc["sha256"] == rec["sha256"] and doc["size"] == rec["size"]
    assert doc["other_data"] == {"k": "[v]"}
    created = dt.datetime.fromisoformat(doc["creation_date"])
    assert created.utcoffset() == dt.timedelta(0)  # aware UTC, as `insert --json` prints it
    assert created == rec["creation_date"].replace(tzinfo=dt.UTC)
    assert dt.datetime.fromisoformat(doc["last_modified"]).utcoffset() == dt.timedelta(0)
    # Any state can be shown by id, pending included.
    assert json.loads(datalake("objects", "show", populated["p.json"]["_id"]).stdout)["status"] == "pending"


def test_objects_show_unknown_id_exits_1(lake: dict) -> None:
    result = datalake("objects", "show", "unknown", code=1)
    assert "no raw object unknown" in result.stderr
    assert result.stdout == ""


def test_a_catalog_down_a_refused_password_or_an_undefined_connection_is_one_line(
    broken: dict[str, str], lake: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    down = (
        f"error: catalog (MongoDB) unreachable at {broken['mongo_address']}: [Errno 111] Connection refused"
    )
    for args in (["objects", "list"], ["objects", "show", "x"], ["reconcile", "--dry-run"]):
        line = one_error_line(run("--mongo-conn-id", "mongo_down", "--swift-conn-id", "swift_test", *args))
        assert line.startswith(down) and "Topology" not in line, line

    refused = run("--swift-conn-id", "swift_badpw", "--mongo-conn-id", "mongo_test", "reconcile", "--dry-run")
    line = one_error_line(refused)
    assert line.startswith("error: Swift refused user 'test:tester' at http://") and "401" in line
    assert broken["password"] not in refused.output

    line = one_error_line(run("--mongo-conn-id", "nosuch", "objects", "list"))
    assert line == (
        "error: the connection 'nosuch' is not defined: source the stack's env file (.stack/env) "
        "or define it in Airflow"
    )
    monkeypatch.delenv("AIRFLOW_CONN_MONGO_DEFAULT", raising=False)
    assert "the connection 'mongo_default' is not defined" in one_error_line(run("objects", "list"))

    def bug(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(Catalog, "find", bug)
    unexpected = run("--mongo-conn-id", "mongo_test", "objects", "list")
    assert isinstance(unexpected.exception, RuntimeError)  # a bug keeps its traceback


def test_objects_list_by_container_application_and_no_format(populated: dict[str, dict]) -> None:
    catalog = CatalogHook("mongo_test")
    a, b = populated["a.json"]["_id"], populated["b.json"]["_id"]
    catalog.raw_objects.update_one({"_id": a}, {"$set": {"application": "app1", "format": None}})
    catalog.raw_objects.update_one({"_id": b}, {"$set": {"swift_container": "elsewhere"}})
    catalog.raw_objects.update_one({"_id": b}, {"$unset": {"format": ""}})

    def ids(*args: str) -> list[str]:
        return [d["_id"] for d in json_lines(datalake("objects", "list", "--json", *args).stdout)]

    assert ids("--application", "app1") == [a]
    assert ids("--container", "elsewhere") == [b]
    assert ids("--format", "-") == [b, a]  # null and missing alike
    assert ids("--format", "-", "--container", "elsewhere") == [b]
    assert "One JSON record per line" in datalake("objects", "list", "--help").stdout


def test_control_characters_of_a_name_are_never_printed_nor_written_raw(
    stored: tuple[dict, bytes], tmp_path: Path
) -> None:
    rec, _ = stored
    CatalogHook("mongo_test").raw_objects.update_one(
        {"_id": rec["_id"]}, {"$set": {"original_object_name": "evil\x1b[2Jname\n.bin"}}
    )
    table = datalake("objects", "list").stdout
    assert "\x1b" not in table and "evil\\x1b[2Jname\\x0a.bin" in table
    datalake("objects", "get", rec["_id"], "-o", f"{tmp_path}/out/")
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["evil_[2Jname_.bin"]


# -- objects get -----------------------------------------------------------------------------------------


@pytest.fixture
def stored(lake: dict, tmp_path: Path) -> tuple[dict, bytes]:
    """A committed record of a binary file over the lake's SLO threshold (every byte value, some zeros)."""
    data = bytes(range(256)) * 4096 + os.urandom(300_000) + b"\0" * 1000
    path = tmp_path / "in" / "blob.bin"
    path.parent.mkdir()
    path.write_bytes(data)
    (rec,) = json_lines(datalake("insert", str(path), "--container", lake["container"], "--json").stdout)
    return rec, data


def test_objects_get_round_trip_to_a_file_a_directory_and_stdout(
    stored: tuple[dict, bytes], tmp_path: Path
) -> None:
    rec, data = stored
    target = tmp_path / "out.bin"
    result = datalake("objects", "get", rec["_id"], "-o", str(target))
    assert target.read_bytes() == data
    assert f"wrote {target} ({len(data)} bytes, checked)" in result.stderr and result.stdout == ""
    assert (
        "exists: --force overwrites it"
        in datalake("objects", "get", rec["_id"], "-o", str(target), code=1).stderr
    )
    target.write_bytes(b"old")
    datalake("objects", "get", rec["_id"], "-o", str(target), "--force")
    assert target.read_bytes() == data

    folder = tmp_path / "folder"
    folder.mkdir()
    datalake("objects", "get", rec["_id"], "-o", str(folder))
    assert [p.name for p in folder.iterdir()] == ["blob.bin"]  # its original name
    assert (folder / "blob.bin").read_bytes() == data

    assert datalake("objects", "get", rec["_id"]).stdout_bytes == data  # stdout is not a terminal here
    assert datalake("objects", "get", rec["_id"], "-o", "-").stdout_bytes == data


def test_objects_get_refuses_unknown_invisible_and_a_terminal(
    stored: tuple[dict, bytes], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rec, _ = stored
    unknown = datalake("objects", "get", "no-such-id", "-o", str(tmp_path / "x"), code=1)
    assert "no raw object no-such-id" in unknown.stderr
    catalog = CatalogHook("mongo_test")
    pending = {**catalog.get(rec["_id"]), "_id": uuid.uuid4().hex, "status": "pending", "dedupe_key": "u:p"}
    pending["swift_object_id"] += "-pending"
    catalog.raw_objects.insert_one(pending)
    refused = datalake("objects", "get", pending["_id"], "-o", str(tmp_path / "x"), code=1).stderr
    assert f"raw object {pending['_id']} is pending: only committed, processing, processed, failed" in refused

    monkeypatch.setattr(objects, "stdout_is_terminal", lambda: True)
    tty = datalake("objects", "get", rec["_id"], code=1)
    assert "not writing the object's bytes to a terminal: use -o FILE or a pipe" in tty.stderr
    assert tty.stdout_bytes == b""

    catalog.transition(rec["_id"], Status.COMMITTED, Status.DELETED)
    assert "is deleted" in datalake("objects", "get", rec["_id"], "-o", str(tmp_path / "x"), code=1).stderr
    assert list(tmp_path.glob("x*")) == []


def test_objects_get_keeps_catalog_paths_out_and_checks_the_bytes(
    stored: tuple[dict, bytes], tmp_path: Path
) -> None:
    """The original name is only a file name inside -o DIR; bytes that are not the record's are refused."""
    rec, data = stored
    catalog = CatalogHook("mongo_test")
    folder = tmp_path / "a" / "b"
    folder.mkdir(parents=True)

    catalog.raw_objects.update_one({"_id": rec["_id"]}, {"$set": {"original_object_name": "../../evil.bin"}})
    datalake("objects", "get", rec["_id"], "-o", str(folder))
    assert [p.name for p in folder.iterdir()] == ["evil.bin"] and not (tmp_path / "evil.bin").exists()
    for bad in ("..", "dir/", "x\\.."):
        catalog.raw_objects.update_one({"_id": rec["_id"]}, {"$set": {"original_object_name": bad}})
        result = datalake("objects", "get", rec["_id"], "-o", str(folder), code=1)
        assert "is no file name: give -o DIR/NAME" in result.stderr

    catalog.raw_objects.update_one({"_id": rec["_id"]}, {"$set": {"sha256": "0" * 64}})
    target = tmp_path / "out.bin"
    result = datalake("objects", "get", rec["_id"], "-o", str(target), code=1)
    assert (
        f"is not the stored object (sha256 {rec['sha256']} read, the record says {'0' * 64})" in result.stderr
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "in"]  # no file, no partial one
    piped = datalake("objects", "get", rec["_id"], code=1)
    assert piped.stdout_bytes == data and "the bytes written are not it" in piped.stderr


def test_objects_get_to_a_path_ending_in_a_slash_makes_the_directory(
    stored: tuple[dict, bytes], tmp_path: Path
) -> None:
    rec, data = stored
    datalake("objects", "get", rec["_id"], "-o", f"{tmp_path}/new/deeper/")
    assert (tmp_path / "new" / "deeper").is_dir()
    assert (tmp_path / "new" / "deeper" / "blob.bin").read_bytes() == data
    (tmp_path / "plain").write_bytes(b"x")
    assert (
        "is not a directory"
        in datalake("objects", "get", rec["_id"], "-o", f"{tmp_path}/plain/", code=1).stderr
    )


def test_objects_get_writes_through_devices_and_fifos_and_follows_symlinks(
    stored: tuple[dict, bytes], tmp_path: Path
) -> None:
    import stat
    import threading

    rec, data = stored
    assert (
        f"wrote /dev/null ({len(data)} bytes, checked)"
        in datalake("objects", "get", rec["_id"], "-o", "/dev/null").stderr
    )

    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()))
    reader.start()
    datalake("objects", "get", rec["_id"], "-o", str(fifo))  # no --force: nothing of the user's is replaced
    reader.join(timeout=30)
    assert got == [data] and stat.S_ISFIFO(fifo.lstat().st_mode)

    target, link = tmp_path / "tgt.txt", tmp_path / "lnk"
    target.write_bytes(b"old")
    link.symlink_to(target.name)
    assert (
        "exists: --force overwrites it"
        in datalake("objects", "get", rec["_id"], "-o", str(link), code=1).stderr
    )
    datalake("objects", "get", rec["_id"], "-o", str(link), "--force")
    assert link.is_symlink() and target.read_bytes() == data
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fifo", "in", "lnk", "tgt.txt"]  # no temp left

    CatalogHook("mongo_test").raw_objects.update_one({"_id": rec["_id"]}, {"$set": {"sha256": "0" * 64}})
    wrong = datalake("objects", "get", rec["_id"], "-o", "/dev/null", code=1).stderr
    assert "is not the stored object" in wrong and "the bytes written to /dev/null are not it" in wrong


def test_objects_quarantine_of_an_object_never_loaded_says_so(stored: tuple[dict, bytes]) -> None:
    rec, _ = stored
    text = datalake("objects", "quarantine", rec["_id"]).stderr
    assert f"no loads recorded yet for {rec['_id']} (status: committed)" in text


# -- reconcile -------------------------------------------------------------------------------------------


def test_objects_quarantine_shows_each_target_s_latest_bad_rows(lake: dict, samples: list[Path]) -> None:
    from airflow_provider_datalake.processing import QUARANTINE_CONTAINER

    rec = json_lines(datalake("insert", str(samples[0]), "--container", lake["container"], "--json").stdout)[
        0
    ]
    swift, catalog = SwiftHook("swift_test"), CatalogHook("mongo_test")
    name = f"cli-test/{rec['_id']}/postgres_t.jsonl"
    bad = [
        {"row_number": n, "field": "value", "value": f"x{n}", "error": "expected float", "record": f"a;x{n}"}
        for n in (3, 7, 9)
    ]
    swift.ensure_container(QUARANTINE_CONTAINER)
    swift.put_object(QUARANTINE_CONTAINER, name, "".join(json.dumps(b) + "\n" for b in bad).encode())
    try:
        old = {"target": "postgres_t", "finished": "2026-01-01T00:00:00", "rows_quarantined": 9}
        catalog.add_outcome(rec["_id"], {**old, "quarantine": "gone/old.jsonl"}, ok=False)
        link = f"{QUARANTINE_CONTAINER}/{name}"
        new = {"target": "postgres_t", "finished": "2026-01-02T00:00:00", "rows_quarantined": 3}
        catalog.add_outcome(rec["_id"], {**new, "quarantine": link}, ok=True)
        catalog.add_outcome(rec["_id"], {"target": "influxdb_t", "rows_quarantined": 0}, ok=True)

        text = datalake("objects", "quarantine", rec["_id"], "--limit", "2").stdout
        assert "postgres_t: 3 row(s) quarantined" in text and link in text  # the latest outcome only
        assert "row 3 value: expected float (value 'x3')" in text and "row 7 value" in text
        assert "row 9" not in text and "--limit 0 shows all" in text
        assert "influxdb_t: 0 row(s) quarantined" in text

        rows = json_lines(
            datalake("objects", "quarantine", rec["_id"], "--target", "postgres_t", "--json").stdout
        )
        assert rows == bad
        datalake("objects", "quarantine", rec["_id"], "--target", "nope", code=1)
        datalake("objects", "quarantine", "no-such-id", code=1)
    finally:
        swift.delete_object(QUARANTINE_CONTAINER, name, missing_ok=True)


def test_reconcile_on_a_clean_lake_has_nothing_to_do(lake: dict, samples: list[Path]) -> None:
    datalake("insert", *map(str, samples[:2]), "--container", lake["container"])
    before = catalog_records()

    dry = datalake("reconcile", "--dry-run", "--container", lake["container"]).stdout
    assert "would roll forward: 0  would roll back: 0" in dry
    assert "orphan objects: 0\n" in dry and "removed" not in dry  # a dry run removes nothing

    report = json.loads(datalake("reconcile", "--json", "--container", lake["container"]).stdout)
    expected = {
        "rolled_forward": [],
        "rolled_back": [],
        "orphans": [],
        "orphans_removed": [],
        "missing_objects": [],
        "dry_run": False,
        "pending_in_lease": [],
    }
    assert {key: report.get(key) for key in expected} == expected  # reconcile's report may grow fields
    assert catalog_records() == before


def test_reconcile_says_which_pending_records_it_leaves_in_their_lease(
    lake: dict, samples: list[Path]
) -> None:
    """A pending record inside its lease (an insert running, or just stopped) is named, not passed over."""
    datalake("insert", str(samples[2]), "--container", lake["container"])
    committed = catalog_records()[0]
    fresh = {
        **committed,
        "_id": uuid.uuid4().hex,
        "status": "pending",
        "swift_object_id": "crash/just-stopped",
        "dedupe_key": f"unique:{uuid.uuid4().hex}",
        "lease_until": utcnow() + dt.timedelta(minutes=10),
    }
    CatalogHook("mongo_test").raw_objects.insert_one(fresh)
    text = datalake("reconcile", "--dry-run", "--container", lake["container"]).stdout
    assert "would roll forward: 0  would roll back: 0" in text
    assert "left alone: 1" in text and f"pending {fresh['_id']}" in text
    report = json.loads(datalake("reconcile", "--json", "--container", lake["container"]).stdout)
    assert report["pending_in_lease"] == [fresh["_id"]] and report["rolled_back"] == []
    assert {r["_id"] for r in catalog_records()} == {committed["_id"], fresh["_id"]}


def test_reconcile_without_container_checks_the_default_one_and_those_of_the_catalog(
    lake: dict, samples: list[Path]
) -> None:
    # The default container (datalake-raw) is shared with other catalogs on this stack, so its objects may
    # show as orphans of this test's catalog, which never names them: only the lake's container is asserted.
    datalake("insert", str(samples[0]), "--container", lake["container"])
    report = json.loads(datalake("reconcile", "--dry-run", "--json").stdout)
    assert report["dry_run"] is True
    assert report["rolled_forward"] == report["rolled_back"] == report["missing_objects"] == []
    assert [o for o in report["orphans"] if not o.startswith("datalake-raw/")] == []
    assert report["orphans_removed"] == []


def test_reconcile_settles_what_a_crash_left(lake: dict, samples: list[Path]) -> None:
    """An expired pending record without its object (a writer killed before upload) is rolled back."""
    datalake("insert", str(samples[2]), "--container", lake["container"])
    catalog = CatalogHook("mongo_test")
    committed = catalog_records()[0]
    past = utcnow() - dt.timedelta(minutes=1)
    stale = {
        **committed,
        "_id": uuid.uuid4().hex,
        "status": "pending",
        "swift_object_id": "crash/never-uploaded",
        "dedupe_key": f"unique:{uuid.uuid4().hex}",
        "lease_until": past,
    }
    catalog.raw_objects.insert_one(stale)

    dry = json.loads(datalake("reconcile", "--dry-run", "--json", "--container", lake["container"]).stdout)
    assert dry["rolled_back"] == [stale["_id"]] and dry["dry_run"] is True
    assert catalog.get(stale["_id"]) is not None  # dry run changed nothing

    text = datalake("reconcile", "--container", lake["container"]).stdout
    assert "rolled forward: 0  rolled back: 1" in text
    assert f"rolled back {stale['_id']}" in text
    assert catalog.get(stale["_id"]) is None
    assert [r["_id"] for r in catalog_records()] == [committed["_id"]]


def test_reconcile_reports_orphans_and_removes_them_only_when_asked(lake: dict) -> None:
    swift = SwiftHook("swift_test")
    swift.ensure_container(lake["container"])
    swift.put_object(lake["container"], "orphan/one", b"no record names me")
    orphan = f"{lake['container']}/orphan/one"

    text = datalake("reconcile", "--container", lake["container"]).stdout
    assert "orphan objects: 1  removed: 0" in text and f"orphan {orphan}" in text
    assert swift.object_exists(lake["container"], "orphan/one")
    swift.put_object(lake["container"], "orphan/two", b"nor me")
    text = datalake("reconcile", "--container", lake["container"], "--show", "1").stdout
    assert "orphan objects: 2" in text and text.count("  orphan ") == 1 and "... and 1 more" in text
    swift.delete_object(lake["container"], "orphan/two")

    dry = json.loads(
        datalake(
            "reconcile", "--dry-run", "--remove-orphans", "--json", "--container", lake["container"]
        ).stdout
    )
    assert dry["orphans"] == [orphan] and dry["orphans_removed"] == []
    assert swift.object_exists(lake["container"], "orphan/one")

    done = json.loads(
        datalake("reconcile", "--remove-orphans", "--json", "--container", lake["container"]).stdout
    )
    assert done["orphans_removed"] == [orphan]
    assert not swift.object_exists(lake["container"], "orphan/one")


def test_reconcile_options_say_what_they_do(lake: dict) -> None:
    assert "--show" in datalake("reconcile", "--show", "-1", code=2).stderr
    missing = f"{lake['container']}-nosuch"
    result = datalake("reconcile", "--dry-run", "--container", missing)
    assert f"warning: container {missing} does not exist" in result.stderr
    swift = SwiftHook("swift_test")
    swift.ensure_container(lake["container"])
    swift.put_object(lake["container"], "orphan/one", b"no record names me")
    dry = datalake("reconcile", "--dry-run", "--remove-orphans", "--container", lake["container"]).stdout
    assert "orphan objects: 1  would remove: 1" in dry and "removed" not in dry
    assert "does not exist" not in datalake("reconcile", "--dry-run", "--container", lake["container"]).stderr
    text = " ".join(datalake("reconcile", "--help").stdout.split())
    assert "Expired pending records are settled in every container" in text
    assert "The report as one JSON document" in text


def test_reconcile_reports_a_committed_record_whose_object_is_gone(lake: dict, samples: list[Path]) -> None:
    datalake("insert", str(samples[4]), "--container", lake["container"])
    rec = catalog_records()[0]
    SwiftHook("swift_test").delete_object(lake["container"], rec["swift_object_id"])
    result = datalake("reconcile", "--container", lake["container"], code=1)
    assert f"record {rec['_id']} is committed but its object is missing from Swift" in result.stdout
    assert CatalogHook("mongo_test").get(rec["_id"])["status"] == "committed"  # reported, never "fixed"


def test_records_of_another_swift_account_are_not_reported_missing_nor_read_through_this_one(
    lake: dict, samples: list[Path], swift_keystone_conn: dict
) -> None:
    """Stored through TempAuth, looked at through Keystone (another account): named, never "missing"."""
    datalake("insert", str(samples[4]), "--container", lake["container"])
    rec = catalog_records()[0]
    keystone = ["--swift-conn-id", "swift_keystone", "--mongo-conn-id", "mongo_test"]
    check = CliRunner().invoke(cli, [*keystone, "reconcile", "--container", lake["container"]])
    assert check.exit_code == 0, check.output
    assert "missing" not in check.stdout
    assert "records of other Swift accounts, not checked through swift_keystone" in check.stdout
    got = CliRunner().invoke(cli, [*keystone, "objects", "get", rec["_id"], "-o", "-"])
    assert got.exit_code == 1
    assert f"raw object {rec['_id']} is stored in Swift account AUTH_test" in got.stderr


# -- samples ---------------------------------------------------------------------------------------------


def test_samples_generate_writes_the_six_files(tmp_path: Path) -> None:
    target = tmp_path / "campus"
    result = CliRunner().invoke(cli, ["samples", "generate", str(target), "--seed", "3"])
    assert result.exit_code == 0, result.output
    files = {p.name: p for p in target.iterdir()}
    assert set(files) == SAMPLE_NAMES
    for path in files.values():
        assert path.stat().st_size > 0
        assert f"{path}  {path.stat().st_size} bytes" in result.stdout
    assert files["campus_photo_0001.png"].read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    # Seeded: the same command writes the same bytes.
    again = tmp_path / "again"
    assert CliRunner().invoke(cli, ["samples", "generate", str(again), "--seed", "3"]).exit_code == 0
    for name in SAMPLE_NAMES:
        assert (again / name).read_bytes() == files[name].read_bytes()
