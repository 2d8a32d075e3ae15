"""Static checks of the production deployment in docker/ (no Docker engine needed).

The compose file is read with PyYAML (merge keys resolved) and its `${VAR}` references are interpolated the
way Docker Compose does, with the values of .env.example.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
DOCKER_DIR = REPO_ROOT / "docker"
COMPOSE_FILE = DOCKER_DIR / "docker-compose.yml"
DOCKERFILE = DOCKER_DIR / "Dockerfile"
ENV_EXAMPLE = DOCKER_DIR / ".env.example"
README = DOCKER_DIR / "README.md"

AIRFLOW_SERVICES = (
    "airflow-init",
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-triggerer",
    "airflow-worker",
)
ONE_SHOT_SERVICES = frozenset({"airflow-init"})

# service -> (official image repository, pattern of the accepted tag)
# Every tag exact (a patch release), or a digest where the image publishes only moving tags: a `mongo:7`
# would be another MongoDB next month.
THIRD_PARTY_IMAGES: dict[str, tuple[str, str]] = {
    "mongo": ("mongo", r"7\.0\.\d+"),
    "postgres": ("postgres", r"16\.\d+"),
    "influxdb": ("influxdb", r"2\.7\.\d+"),
    "neo4j": ("neo4j", r"5\.26\.\d+-community"),
    "redis": ("redis", r"7\.2\.\d+"),
}
# Built here on an official image pinned by digest: Swift with the data lake's catalogue middleware.
SWIFT_DOCKERFILE = DOCKER_DIR / "swift" / "Dockerfile"
SWIFT_BASE = re.compile(r"^FROM openstackswift/saio:latest@sha256:[0-9a-f]{64}$", re.M)
EXPECTED_SERVICES = frozenset(THIRD_PARTY_IMAGES) | frozenset(AIRFLOW_SERVICES) | {"swift"}

# service -> path inside the container where it keeps its data (must be a named volume)
DATA_PATHS: dict[str, str] = {
    "swift": "/srv/node",
    "mongo": "/data/db",
    "postgres": "/var/lib/postgresql/data",
    "influxdb": "/var/lib/influxdb2",
    "neo4j": "/data",
    "redis": "/data",
}

# connection id -> (conn_type, compose service it points at, port of that service)
CONNECTIONS: dict[str, tuple[str, str, int]] = {
    "swift_default": ("swift", "swift", 8080),
    "mongo_default": ("mongo", "mongo", 27017),
    "postgres_default": ("postgres", "postgres", 5432),
    "influxdb_default": ("influxdb", "influxdb", 8086),
    "neo4j_default": ("neo4j", "neo4j", 7687),
}

SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|FERNET|_AUTH$", re.IGNORECASE)
# ${NAME}, ${NAME:-default}, ${NAME-default}, ${NAME:?message}, ${NAME?message}, ${NAME:+alt}, $NAME, $$
VARIABLE = re.compile(
    r"\$(?:(?P<escaped>\$)"
    r"|\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?+])(?P<arg>[^}]*))?\}"
    r"|(?P<bare>[A-Za-z_][A-Za-z0-9_]*))"
)
URL_CREDENTIALS = re.compile(r"://(?P<user>[^:/@\s]*):(?P<password>[^@\s]*)@")
REQUIRED_REFERENCE = re.compile(r"\$\{[A-Za-z_][A-Za-z0-9_]*:\?[^}]+\}")


# ----------------------------------------------------------------------------------------------- helpers
def parse_env_file(path: Path) -> dict[str, str]:
    """KEY=VALUE lines as Compose reads an .env file (comments and blank lines skipped)."""
    values: dict[str, str] = {}
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        assert sep, f"{path.name}:{number}: not a KEY=VALUE line: {raw!r}"
        key = key.strip()
        assert re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key), f"{path.name}:{number}: bad name {key!r}"
        assert key not in values, f"{path.name}:{number}: {key} defined twice"
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key] = value
    return values


def interpolate(text: str, env: Mapping[str, str]) -> str:
    """Substitute variables like Docker Compose; a missing required variable raises KeyError."""

    def replace(match: re.Match[str]) -> str:
        if match.group("escaped"):
            return "$"
        name = match.group("braced") or match.group("bare")
        op, arg = match.group("op"), match.group("arg") or ""
        value = env.get(name)
        is_set = value is not None and (value != "" or not (op or "").startswith(":"))
        if op in (":+", "+"):
            return arg if is_set else ""
        if is_set:
            return value or ""
        if op in (":-", "-"):
            return arg
        if op in (":?", "?"):
            raise KeyError(f"{name}: {arg}")
        return ""

    return VARIABLE.sub(replace, text)


def iter_strings(node: Any) -> Iterator[str]:
    """Every string (keys and values) of a loaded YAML tree."""
    if isinstance(node, str):
        yield node
    elif isinstance(node, Mapping):
        for key, value in node.items():
            yield from iter_strings(key)
            yield from iter_strings(value)
    elif isinstance(node, list):
        for item in node:
            yield from iter_strings(item)


def referenced_variables(node: Any) -> set[str]:
    names: set[str] = set()
    for text in iter_strings(node):
        for match in VARIABLE.finditer(text):
            name = match.group("braced") or match.group("bare")
            if name:
                names.add(name)
    return names


def environment_of(service: Mapping[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):  # the "KEY=VALUE" list form
        env = dict(item.split("=", 1) for item in env)
    return {str(key): str(value) for key, value in env.items()}


def volume_source(entry: str | Mapping[str, Any]) -> tuple[str, str]:
    if isinstance(entry, Mapping):
        return str(entry.get("source", "")), str(entry["target"])
    parts = entry.split(":")
    return (parts[0], parts[1]) if len(parts) > 1 else ("", parts[0])


def is_named_volume(source: str) -> bool:
    return bool(source) and not source.startswith(("/", ".", "~", "$"))


def published_ports(service: Mapping[str, Any], env: Mapping[str, str]) -> list[tuple[str, str, str]]:
    """(host_ip, host_port, container_port) of each short-syntax port mapping, interpolated."""
    result: list[tuple[str, str, str]] = []
    for entry in service.get("ports") or []:
        assert isinstance(entry, str), f"use the short port syntax: {entry!r}"
        parts = interpolate(entry, env).split(":")
        assert len(parts) == 3, f"port {entry!r} must name the host address: IP:HOST_PORT:CONTAINER_PORT"
        result.append((parts[0], parts[1], parts[2]))
    return result


# ----------------------------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return compose["services"]


@pytest.fixture(scope="module")
def env_example() -> dict[str, str]:
    return parse_env_file(ENV_EXAMPLE)


@pytest.fixture(scope="module")
def common_env(compose: dict[str, Any]) -> dict[str, str]:
    return environment_of(compose["x-airflow-common"])


# ----------------------------------------------------------------------------------------------- tests
def test_deployment_files_exist() -> None:
    for path in (COMPOSE_FILE, DOCKERFILE, ENV_EXAMPLE, README):
        assert path.is_file(), f"missing {path.relative_to(REPO_ROOT)}"


def test_expected_services_exist(services: dict[str, Any]) -> None:
    assert set(services) == EXPECTED_SERVICES


def test_top_level_keys_are_known(compose: dict[str, Any]) -> None:
    unknown = {key for key in compose if not key.startswith("x-")} - {"name", "services", "volumes"}
    assert not unknown, f"unexpected top-level keys: {unknown}"
    assert "version" not in compose, "the `version` key is obsolete in the Compose specification"


@pytest.mark.parametrize("name", sorted(THIRD_PARTY_IMAGES))
def test_images_are_official_and_pinned(services: dict[str, Any], name: str) -> None:
    repository, tag_pattern = THIRD_PARTY_IMAGES[name]
    image = services[name]["image"]
    assert "$" not in image, f"{name}: the image must be written out, not taken from a variable"
    assert "build" not in services[name]
    found_repository, sep, tag = image.partition(":")
    assert sep, f"{name}: {image} has no tag"
    assert found_repository == repository, f"{name}: expected the official {repository} image, got {image}"
    assert tag != "latest"
    assert re.fullmatch(tag_pattern, tag), f"{name}: tag {tag!r} does not match {tag_pattern!r}"


def test_swift_is_the_pinned_saio_image_with_the_catalogue_middleware(services: dict[str, Any]) -> None:
    swift = services["swift"]
    assert (DOCKER_DIR / swift["build"]["context"]).resolve() == REPO_ROOT
    assert (REPO_ROOT / swift["build"]["dockerfile"]).resolve() == SWIFT_DOCKERFILE
    assert "$" not in swift["image"]
    text = SWIFT_DOCKERFILE.read_text()
    assert SWIFT_BASE.search(text), "the Swift image must start FROM saio pinned by digest"
    assert "--require-hashes -r /opt/datalake/requirements.txt" in text  # pymongo locked, hashed
    assert "COPY datalake_catalog " in text
    assert (REPO_ROOT / "datalake_catalog" / "pyproject.toml").is_file()
    entry = (DOCKER_DIR / "swift" / "swift-entrypoint.sh").read_text()
    assert "datalake_catalog proxy-logging proxy-server" in entry and "s3api tempauth" in entry
    assert "DATALAKE_CATALOG_URI" in swift["environment"]
    assert swift["depends_on"]["mongo"]["condition"] == "service_healthy"


@pytest.mark.parametrize("name", AIRFLOW_SERVICES)
def test_airflow_services_are_built_from_the_dockerfile(services: dict[str, Any], name: str) -> None:
    build = services[name]["build"]
    assert (DOCKER_DIR / build["context"]).resolve() == REPO_ROOT
    assert (REPO_ROOT / build["dockerfile"]).resolve() == DOCKERFILE
    assert services[name]["image"] == services["airflow-apiserver"]["image"], "one image for all of Airflow"


@pytest.mark.parametrize("name", sorted(EXPECTED_SERVICES))
def test_restart_policy_and_healthcheck(services: dict[str, Any], name: str) -> None:
    service = services[name]
    if name in ONE_SHOT_SERVICES:
        assert service["restart"] == "no", f"{name} is one-shot: restarting it would loop"
        return
    assert service["restart"] == "unless-stopped"
    healthcheck = service.get("healthcheck") or {}
    assert not healthcheck.get("disable"), f"{name}: healthcheck disabled"
    test = healthcheck.get("test")
    assert test, f"{name}: long-running service without a healthcheck"
    if isinstance(test, list):
        assert test[0] in ("CMD", "CMD-SHELL") and len(test) > 1, f"{name}: malformed healthcheck {test}"
    for key in ("interval", "timeout", "retries"):
        assert key in healthcheck, f"{name}: healthcheck without {key}"


@pytest.mark.parametrize("name", sorted(DATA_PATHS))
def test_data_services_keep_data_in_named_volumes(services: dict[str, Any], name: str) -> None:
    mounts = {target: source for source, target in map(volume_source, services[name].get("volumes") or [])}
    path = DATA_PATHS[name]
    assert path in mounts, f"{name}: nothing mounted on its data directory {path}"
    assert is_named_volume(mounts[path]), f"{name}: {path} must be a named volume, not {mounts[path]!r}"


def test_named_volumes_are_declared_at_top_level(compose: dict[str, Any], services: dict[str, Any]) -> None:
    declared = set(compose.get("volumes") or {})
    used = {
        source
        for service in services.values()
        for source, _ in map(volume_source, service.get("volumes") or [])
        if is_named_volume(source)
    }
    assert used <= declared, f"named volumes not declared at top level: {used - declared}"
    assert declared <= used, f"declared but unused volumes: {declared - used}"


def test_bind_mounts_exist_in_the_docker_folder(services: dict[str, Any]) -> None:
    for name, service in services.items():
        for source, target in map(volume_source, service.get("volumes") or []):
            if source.startswith("."):
                local = (DOCKER_DIR / source).resolve()
                assert local.exists(), f"{name}: {source} (mounted on {target}) does not exist"
                assert DOCKER_DIR in local.parents, f"{name}: {source} reaches outside docker/"


def test_common_anchor_sets_the_airflow_basics(common_env: dict[str, str]) -> None:
    assert common_env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert common_env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://airflow-apiserver:8080/execution/"
    for key in ("AIRFLOW__API_AUTH__JWT_SECRET", "AIRFLOW__CORE__FERNET_KEY", "AIRFLOW__API__SECRET_KEY"):
        assert REQUIRED_REFERENCE.fullmatch(common_env[key]), f"{key} must be a required ${{VAR:?...}}"
    assert "@redis:6379/" in common_env["AIRFLOW__CELERY__BROKER_URL"]
    for key in ("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "AIRFLOW__CELERY__RESULT_BACKEND"):
        assert "@postgres:5432/" in common_env[key]
    assert {f"AIRFLOW_CONN_{conn_id.upper()}" for conn_id in CONNECTIONS} <= set(common_env)


@pytest.mark.parametrize("name", AIRFLOW_SERVICES)
def test_airflow_services_share_the_common_anchor(
    compose: dict[str, Any], services: dict[str, Any], common_env: dict[str, str], name: str
) -> None:
    env = environment_of(services[name])
    missing = {key for key, value in common_env.items() if env.get(key) != value}
    assert not missing, f"{name}: differs from x-airflow-common on {sorted(missing)}"
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert services[name]["volumes"] == compose["x-airflow-common"]["volumes"]
    raw = COMPOSE_FILE.read_text(encoding="utf-8")
    block = re.search(rf"^  {re.escape(name)}:\n((?:    .*\n|\s*\n)+)", raw, re.MULTILINE)
    assert block and "<<: *airflow-common\n" in block.group(1), f"{name} does not merge *airflow-common"


def test_airflow_init_migrates_once(services: dict[str, Any]) -> None:
    init = services["airflow-init"]
    env = environment_of(init)
    command = init.get("command")
    command_text = " ".join(command) if isinstance(command, list) else str(command)
    assert env.get("_AIRFLOW_DB_MIGRATE") == "true" or "db migrate" in command_text
    assert "healthcheck" not in init and "ports" not in init


def test_airflow_init_installs_the_format_dags(services: dict[str, Any]) -> None:
    """A first `docker compose up` has the format DAGs: the init writes them, after the migration, with the
    catalog up, through the image's entrypoint (which runs the migration)."""
    init = services["airflow-init"]
    command = init.get("command")
    command_text = " ".join(command) if isinstance(command, list) else str(command)
    migrate, _, install = command_text.partition("&&")
    assert "/entrypoint airflow version" in migrate and "datalake dags install" in install, command_text
    assert init.get("entrypoint") == "/bin/bash"
    assert init["depends_on"]["mongo"]["condition"] == "service_healthy"


@pytest.mark.parametrize("name", [name for name in AIRFLOW_SERVICES if name != "airflow-init"])
def test_airflow_services_wait_for_their_dependencies(services: dict[str, Any], name: str) -> None:
    depends_on = services[name]["depends_on"]
    assert isinstance(depends_on, dict), f"{name}: depends_on needs conditions"
    assert depends_on["airflow-init"]["condition"] == "service_completed_successfully"
    for dependency in ("postgres", "redis"):
        assert depends_on[dependency]["condition"] == "service_healthy"


def test_depends_on_targets_exist_and_can_be_healthy(services: dict[str, Any]) -> None:
    for name, service in services.items():
        depends_on = service.get("depends_on") or {}
        assert isinstance(depends_on, dict), f"{name}: depends_on needs conditions"
        for dependency, spec in depends_on.items():
            assert dependency in services, f"{name} depends on unknown service {dependency}"
            if spec["condition"] == "service_healthy":
                assert "healthcheck" in services[dependency], f"{dependency} has no healthcheck to wait for"


def test_worker_is_scalable(services: dict[str, Any]) -> None:
    worker = services["airflow-worker"]
    assert worker["command"] == "celery worker"
    for key in ("container_name", "ports", "hostname"):
        assert key not in worker, f"airflow-worker sets {key}: `--scale airflow-worker=N` would clash"


def test_every_compose_variable_is_in_env_example(
    compose: dict[str, Any], env_example: dict[str, str]
) -> None:
    missing = referenced_variables(compose) - set(env_example)
    assert not missing, (
        f"variables read by docker-compose.yml but absent from .env.example: {sorted(missing)}"
    )


def test_env_example_defines_only_what_compose_reads(
    compose: dict[str, Any], env_example: dict[str, str]
) -> None:
    unused = set(env_example) - referenced_variables(compose)
    assert not unused, f".env.example defines variables compose never reads: {sorted(unused)}"


def test_env_example_documents_every_variable() -> None:
    lines = ENV_EXAMPLE.read_text(encoding="utf-8").splitlines()
    for index, line in enumerate(lines):
        if line.strip() and not line.lstrip().startswith("#"):
            assert index > 0 and lines[index - 1].lstrip().startswith("#"), f"no comment above {line!r}"


def test_compose_interpolates_with_env_example(compose: dict[str, Any], env_example: dict[str, str]) -> None:
    for text in iter_strings(compose):
        interpolate(text, env_example)  # raises on a required variable without a value
    with pytest.raises(KeyError, match="AIRFLOW_FERNET_KEY"):
        for text in iter_strings(compose):
            interpolate(text, {k: v for k, v in env_example.items() if k != "AIRFLOW_FERNET_KEY"})


def test_secret_variables_are_required_and_placeholders(
    compose: dict[str, Any], env_example: dict[str, str]
) -> None:
    secrets = {name for name in referenced_variables(compose) if SECRET_NAME.search(name)}
    assert {"AIRFLOW_FERNET_KEY", "AIRFLOW_JWT_SECRET", "SWIFT_PASSWORD", "NEO4J_PASSWORD"} <= secrets
    for text in iter_strings(compose):
        for match in VARIABLE.finditer(text):
            if match.group("braced") in secrets:
                assert match.group("op") == ":?", f"{match.group(0)}: a secret takes no default, use :?"
    for name in secrets:
        assert "CHANGE_ME" in env_example[name], f".env.example must hold a placeholder for {name}"


@pytest.mark.parametrize("name", sorted(EXPECTED_SERVICES))
def test_no_secret_literal_in_environment(services: dict[str, Any], name: str) -> None:
    for key, value in environment_of(services[name]).items():
        if SECRET_NAME.search(key):
            assert "${" in value, f"{name}: {key} holds a literal secret"
        for match in URL_CREDENTIALS.finditer(value):
            password = match.group("password")
            assert not password or REQUIRED_REFERENCE.fullmatch(password), (
                f"{name}: {key} embeds a literal password in a URL"
            )
        if key.startswith("AIRFLOW_CONN_"):
            raw = json.loads(value)  # placeholders sit inside JSON strings, so the raw text parses too
            if "password" in raw:
                assert REQUIRED_REFERENCE.fullmatch(raw["password"]), f"{name}: {key} has a literal password"
            for field, field_value in (raw.get("extra") or {}).items():
                if SECRET_NAME.search(field):
                    assert REQUIRED_REFERENCE.fullmatch(field_value), (
                        f"{name}: {key} extra {field} is literal"
                    )


def test_no_placeholder_secret_copied_into_compose(env_example: dict[str, str]) -> None:
    secret_values = {value for name, value in env_example.items() if SECRET_NAME.search(name)}
    raw = COMPOSE_FILE.read_text(encoding="utf-8")
    for value in secret_values:
        assert value not in raw, "a placeholder secret from .env.example is written into docker-compose.yml"


def test_published_ports_are_unique_and_bound_to_bind_address(
    services: dict[str, Any], env_example: dict[str, str]
) -> None:
    seen: dict[str, str] = {}
    for name, service in services.items():
        for entry in service.get("ports") or []:
            assert entry.startswith("${BIND_ADDRESS"), f"{name}: {entry} is not bound through BIND_ADDRESS"
        for host_ip, host_port, _ in published_ports(service, env_example):
            assert host_ip == "127.0.0.1", f"{name}: binds {host_ip} by default"
            assert host_port not in seen, (
                f"host port {host_port} published by {seen.get(host_port)} and {name}"
            )
            seen[host_port] = name
    # The same check with the compose defaults alone (an .env holding nothing but the required secrets).
    defaults_only = {name: value for name, value in env_example.items() if SECRET_NAME.search(name)}
    host_ports = [
        port for service in services.values() for _, port, _ in published_ports(service, defaults_only)
    ]
    assert len(host_ports) == len(set(host_ports)), f"default host ports collide: {sorted(host_ports)}"
    assert "127.0.0.1" in interpolate("${BIND_ADDRESS:-127.0.0.1}", {})


def test_internal_services_publish_nothing(services: dict[str, Any]) -> None:
    for name in ("redis", "airflow-init", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer"):
        assert "ports" not in services[name], f"{name} should not be reachable from the host"
    assert any(port == "8080" for *_, port in published_ports(services["airflow-apiserver"], {}))


@pytest.mark.parametrize("conn_id", sorted(CONNECTIONS))
def test_connections_are_json_with_expected_type(
    services: dict[str, Any], common_env: dict[str, str], env_example: dict[str, str], conn_id: str
) -> None:
    conn_type, host, port = CONNECTIONS[conn_id]
    conn = json.loads(interpolate(common_env[f"AIRFLOW_CONN_{conn_id.upper()}"], env_example))
    assert conn["conn_type"] == conn_type
    assert conn["host"] == host and host in services
    assert conn["port"] == port and isinstance(conn["port"], int)
    assert isinstance(conn.get("extra", {}), dict)
    container_ports = {int(p.rsplit(":", 1)[-1]) for p in services[host].get("ports") or []}
    assert not container_ports or port in container_ports, f"{conn_id}: {host} does not serve port {port}"


def test_connection_details(common_env: dict[str, str], env_example: dict[str, str]) -> None:
    def conn(conn_id: str) -> dict[str, Any]:
        return json.loads(interpolate(common_env[f"AIRFLOW_CONN_{conn_id.upper()}"], env_example))

    swift = conn("swift_default")
    assert swift["login"] == "test:tester"
    assert swift["password"] == env_example["SWIFT_PASSWORD"]
    assert "extra" not in swift  # TempAuth v1, the hook's default
    mongo = conn("mongo_default")
    assert mongo["schema"] == "datalake"
    assert mongo["login"] == env_example["MONGO_DATALAKE_USER"]
    postgres = conn("postgres_default")
    assert postgres["schema"] == env_example["DATALAKE_DB_NAME"]
    assert postgres["login"] == env_example["DATALAKE_DB_USER"]
    influxdb = conn("influxdb_default")
    assert influxdb["extra"]["token"] == env_example["INFLUXDB_TOKEN"]
    assert influxdb["extra"]["org"] == env_example["INFLUXDB_ORG"]
    assert conn("neo4j_default")["password"] == env_example["NEO4J_PASSWORD"]


def test_stores_are_initialised_from_the_same_variables(
    services: dict[str, Any], common_env: dict[str, str], env_example: dict[str, str]
) -> None:
    def env(name: str) -> dict[str, str]:
        return {k: interpolate(v, env_example) for k, v in environment_of(services[name]).items()}

    assert env("swift")["SWIFT_PASSWORD"] == env_example["SWIFT_PASSWORD"]
    assert env("neo4j")["NEO4J_AUTH"] == f"neo4j/{env_example['NEO4J_PASSWORD']}"
    assert env("influxdb")["DOCKER_INFLUXDB_INIT_ADMIN_TOKEN"] == env_example["INFLUXDB_TOKEN"]
    assert env("influxdb")["DOCKER_INFLUXDB_INIT_ORG"] == env_example["INFLUXDB_ORG"]
    assert env("mongo")["MONGO_DATALAKE_PASSWORD"] == env_example["MONGO_DATALAKE_PASSWORD"]
    sql_alchemy = interpolate(common_env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"], env_example)
    postgres_env = env("postgres")
    assert sql_alchemy == (
        f"postgresql+psycopg2://{postgres_env['AIRFLOW_DB_USER']}:{postgres_env['AIRFLOW_DB_PASSWORD']}"
        f"@postgres:5432/{postgres_env['AIRFLOW_DB_NAME']}"
    )
    assert env("redis")["REDISCLI_AUTH"] == env_example["REDIS_PASSWORD"]


def test_postgres_init_script_creates_both_databases(services: dict[str, Any]) -> None:
    postgres = services["postgres"]
    mounts = {target: source for source, target in map(volume_source, postgres["volumes"])}
    init_dir = (DOCKER_DIR / mounts["/docker-entrypoint-initdb.d"]).resolve()
    assert init_dir == DOCKER_DIR / "postgres-init"
    scripts = sorted(init_dir.glob("*.sh")) + sorted(init_dir.glob("*.sql"))
    assert scripts, "docker/postgres-init/ holds no init script"
    text = "\n".join(script.read_text(encoding="utf-8") for script in scripts)
    assert text.count("CREATE DATABASE") >= 2 and text.count("CREATE ROLE") >= 2
    provided = set(environment_of(postgres))
    used = {m.group("braced") or m.group("bare") for m in VARIABLE.finditer(text)} - {None}
    assert used <= provided, f"init script reads variables postgres does not get: {sorted(used - provided)}"
    assert {"AIRFLOW_DB_NAME", "AIRFLOW_DB_PASSWORD", "DATALAKE_DB_NAME", "DATALAKE_DB_PASSWORD"} <= used


def test_swift_entrypoint_hands_over_to_the_image_init(services: dict[str, Any]) -> None:
    swift = services["swift"]
    mounts = {target: source for source, target in map(volume_source, swift["volumes"])}
    script_target = swift["entrypoint"][-1]
    script = (DOCKER_DIR / mounts[script_target]).resolve()
    text = script.read_text(encoding="utf-8")
    assert "SWIFT_PASSWORD" in text and "user_test_tester" in text
    assert text.rstrip().endswith('exec /init "$@"'), "s6-overlay's /init must stay PID 1"


def test_mongo_init_creates_the_datalake_user(services: dict[str, Any]) -> None:
    mounts = {target: source for source, target in map(volume_source, services["mongo"]["volumes"])}
    init_dir = (DOCKER_DIR / mounts["/docker-entrypoint-initdb.d"]).resolve()
    text = "\n".join(path.read_text(encoding="utf-8") for path in sorted(init_dir.glob("*.js")))
    assert "createUser" in text and '"datalake"' in text
    for name in ("MONGO_DATALAKE_USER", "MONGO_DATALAKE_PASSWORD"):
        assert f"process.env.{name}" in text and name in environment_of(services["mongo"])


def dockerfile_instructions() -> list[tuple[str, str]]:
    text = DOCKERFILE.read_text(encoding="utf-8").replace("\\\n", " ")
    instructions: list[tuple[str, str]] = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            keyword, _, rest = stripped.partition(" ")
            instructions.append((keyword.upper(), rest.strip()))
    return instructions


def test_dockerfile_starts_from_airflow_3_3() -> None:
    instructions = [(k, v) for k, v in dockerfile_instructions() if k != "ARG"]
    keyword, image = instructions[0]
    assert keyword == "FROM"
    assert re.fullmatch(r"apache/airflow:3\.3\.\d+(-python3\.\d+)?", image), image
    assert sum(1 for k, _ in instructions if k == "FROM") == 1


def test_dockerfile_installs_the_provider_as_airflow() -> None:
    allowed = {"pyproject.toml", "README.md", "airflow_provider_datalake/", "dag_templates/"}
    user = "root"  # the base image's USER is airflow, but only an explicit USER line proves it here
    installed = False
    for keyword, rest in dockerfile_instructions():
        if keyword == "USER":
            user = rest
        elif keyword in ("COPY", "ADD"):
            assert keyword == "COPY", "ADD fetches and unpacks; COPY is enough"
            words = [word for word in rest.split() if not word.startswith("--")]
            sources, target = words[:-1], words[-1]
            assert set(sources) <= allowed, f"COPY brings more than the package: {sources}"
            assert target.startswith("/opt/airflow-provider-datalake/")
        elif keyword == "RUN" and "pip install" in rest and "/opt/airflow-provider-datalake" in rest:
            assert user == "airflow", "the official image wants packages installed as the airflow user"
            assert "--no-cache-dir" in rest
            assert '"apache-airflow==${AIRFLOW_VERSION}"' in rest, "pin Airflow so pip cannot replace it"
            assert '--constraint "${HOME}/constraints.txt"' in rest, "install on the image's constraints"
            assert rest.rstrip().endswith("pip check"), "a conflict must fail the build"
            installed = True
    assert installed, "the Dockerfile never pip-installs /opt/airflow-provider-datalake"
    assert user == "airflow", "the image must end as the airflow user"


def test_dockerfile_copy_sources_exist() -> None:
    """`docker compose build` fails on a COPY source that the repository does not have."""
    for keyword, rest in dockerfile_instructions():
        if keyword == "COPY":
            for source in [word for word in rest.split() if not word.startswith("--")][:-1]:
                assert (REPO_ROOT / source).exists(), f"COPY source {source} is missing from the repository"


def test_readme_explains_deploy_and_scaling() -> None:
    text = README.read_text(encoding="utf-8")
    for snippet in ("cp .env.example .env", "docker compose up -d", "--scale airflow-worker="):
        assert snippet in text
    for name in EXPECTED_SERVICES:
        assert f"`{name}`" in text, f"README does not describe {name}"


def test_interpolation_helper_follows_compose_rules() -> None:
    env = {"SET": "x", "EMPTY": ""}
    assert interpolate("$$HOME ${SET} $SET", env) == "$HOME x x"
    assert interpolate("${EMPTY:-d}|${EMPTY-d}|${UNSET-d}|${UNSET}", env) == "d||d|"
    assert interpolate("${SET:+alt}|${UNSET:+alt}", env) == "alt|"
    with pytest.raises(KeyError):
        interpolate("${EMPTY:?required}", env)
    assert interpolate("${EMPTY?required}", env) == ""
