"""OpenStack Keystone (Identity v3) and a second Swift proxy that takes its tokens.

Keystone runs from its own locked environment with an SQLite database and Fernet keys in the stack folder,
served by ``devstack/keystone/serve.py``. The second proxy shares the rings and storage servers of
``swift.py`` and authenticates with authtoken + keystoneauth, as an OpenStack cloud runs it, so the hook's
Keystone v3 path runs for real.
"""

from __future__ import annotations

import json
import os
import urllib.request

import envs  # devstack/envs.py: the locked Python environments
from service import (
    HOST,
    LOGS,
    PORTS,
    REPO,
    STACK,
    Service,
    http_ok,
    log,
    os_user,
    run,
    secrets_file,
    venv_install,
)

from services.swift import SWIFT_DIR, SwiftService, proxy_conf

KEYSTONE_VERSION = envs.pinned("keystone", "keystone")
KEYSTONE_VENV = envs.venv_path("keystone")
KEYSTONE_DIR = STACK / "keystone"
KEYSTONE_URL = f"http://{HOST}:{PORTS['keystone']}/v3"
# What the stack's `swift_keystone` connection uses. The project and the user live in two different domains,
# and the object store is listed only on the internal interface of region toulouse-1, so a hook that dropped
# any of these settings would fail against it.
KEYSTONE_PROJECT = {"name": "datalake", "domain": "campus"}
KEYSTONE_USER = {"name": "alice", "domain": "ut3-staff"}
KEYSTONE_REGION, KEYSTONE_INTERFACE = "toulouse-1", "internal"


def keystone_manage(*args: str, env: dict[str, str] | None = None) -> None:
    conf = str(KEYSTONE_DIR / "keystone.conf")
    run([str(KEYSTONE_VENV / "bin" / "keystone-manage"), "--config-file", conf, *args], env=env)


def _keystone_call(method: str, path: str, token: str | None = None, body: dict | None = None) -> dict:
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Content-Type": "application/json", **({"X-Auth-Token": token} if token else {})}
    req = urllib.request.Request(KEYSTONE_URL + path, data=data, headers=headers, method=method)  # noqa: S310
    with urllib.request.urlopen(req, timeout=30) as resp:  # noqa: S310 (loopback)
        text = resp.read()
        answer = json.loads(text) if text else {}
        if path == "/auth/tokens" and method == "POST":
            answer["token_id"] = resp.headers["X-Subject-Token"]
        return answer


def keystone_auth(user: str, password: str, user_domain: str, project: str, project_domain: str) -> dict:
    """A project-scoped token: the answer's ``token`` (catalog included) and its id as ``token_id``."""
    scope = {"project": {"name": project, "domain": {"name": project_domain}}}
    ident = {"user": {"name": user, "password": password, "domain": {"name": user_domain}}}
    body = {"auth": {"identity": {"methods": ["password"], "password": ident}, "scope": scope}}
    return _keystone_call("POST", "/auth/tokens", body=body)


def provision_keystone() -> None:
    """The domains, project, users, roles and object-store endpoint the stack needs (idempotent)."""
    pw = secrets_file()
    token = keystone_auth("admin", pw["keystone_admin"], "Default", "admin", "Default")["token_id"]

    def one(kind: str, query: str, create: dict) -> str:
        found = _keystone_call("GET", f"/{kind}?{query}", token)[kind]
        if found:
            return str(found[0]["id"])
        return str(_keystone_call("POST", f"/{kind}", token, create)[kind[:-1]]["id"])

    def domain(name: str) -> str:
        return one("domains", f"name={name}", {"domain": {"name": name}})

    def role(name: str) -> str:
        return one("roles", f"name={name}", {"role": {"name": name}})

    def user(name: str, domain_id: str, password: str) -> str:
        user_id = one(
            "users",
            f"name={name}&domain_id={domain_id}",
            {"user": {"name": name, "domain_id": domain_id, "password": password}},
        )
        _keystone_call("PATCH", f"/users/{user_id}", token, {"user": {"password": password}})
        return user_id

    default = domain("Default")
    project = one(
        "projects",
        f"name={KEYSTONE_PROJECT['name']}&domain_id={domain(KEYSTONE_PROJECT['domain'])}",
        {"project": {"name": KEYSTONE_PROJECT["name"], "domain_id": domain(KEYSTONE_PROJECT["domain"])}},
    )
    service_project = one(
        "projects",
        f"name=service&domain_id={default}",
        {"project": {"name": "service", "domain_id": default}},
    )
    alice = user(KEYSTONE_USER["name"], domain(KEYSTONE_USER["domain"]), pw["keystone_alice"])
    swift = user("swift", default, pw["keystone_swift"])
    # alice may use her project's storage; the proxy's own user may validate the tokens it is shown.
    _keystone_call("PUT", f"/projects/{project}/users/{alice}/roles/{role('member')}", token)
    _keystone_call("PUT", f"/projects/{service_project}/users/{swift}/roles/{role('service')}", token)
    _keystone_call("PUT", f"/projects/{service_project}/users/{swift}/roles/{role('admin')}", token)
    service = one("services", "type=object-store", {"service": {"name": "swift", "type": "object-store"}})
    url = f"http://{HOST}:{PORTS['swift-proxy-keystone']}/v1/AUTH_%(project_id)s"
    endpoints = _keystone_call("GET", f"/endpoints?service_id={service}", token)["endpoints"]
    if not any(e["interface"] == KEYSTONE_INTERFACE and e["url"] == url for e in endpoints):
        for stale in endpoints:
            _keystone_call("DELETE", f"/endpoints/{stale['id']}", token)
        endpoint = {"service_id": service, "interface": KEYSTONE_INTERFACE, "url": url}
        _keystone_call("POST", "/endpoints", token, {"endpoint": {**endpoint, "region_id": KEYSTONE_REGION}})


class Keystone(Service):
    name = "keystone"
    port = PORTS["keystone"]
    start_timeout = 90

    def install(self) -> None:
        venv_install("keystone", f"OpenStack Keystone {KEYSTONE_VERSION}")

    def configure(self) -> None:
        """keystone.conf at every start; the database, keys and admin once per stack folder."""
        KEYSTONE_DIR.mkdir(parents=True, exist_ok=True)
        (KEYSTONE_DIR / "keystone.conf").write_text(
            f"[DEFAULT]\nlog_file = {LOGS / 'keystone-app.log'}\n\n"
            f"[database]\nconnection = sqlite:///{KEYSTONE_DIR / 'keystone.db'}\n\n"
            "[token]\nprovider = fernet\nexpiration = 86400\n\n"
            f"[fernet_tokens]\nkey_repository = {KEYSTONE_DIR / 'fernet-keys'}\n\n"
            f"[credential]\nkey_repository = {KEYSTONE_DIR / 'credential-keys'}\n"
        )
        done = KEYSTONE_DIR / ".bootstrapped"
        if done.exists():
            return
        owner = ["--keystone-user", os_user(), "--keystone-group", os_user()]
        log("setting up Keystone (database, keys, admin; about 30 s, first time only)")
        keystone_manage("db_sync")
        keystone_manage("fernet_setup", *owner)
        keystone_manage("credential_setup", *owner)
        # The admin password goes in keystone-manage's environment variable, never in argv: argv shows in
        # `ps` and in the error message of a failed set-up command.
        admin = {**os.environ, "OS_BOOTSTRAP_PASSWORD": secrets_file()["keystone_admin"]}
        keystone_manage(
            "bootstrap",
            "--bootstrap-admin-url",
            KEYSTONE_URL,
            "--bootstrap-public-url",
            KEYSTONE_URL,
            "--bootstrap-internal-url",
            KEYSTONE_URL,
            "--bootstrap-region-id",
            KEYSTONE_REGION,
            env=admin,
        )
        done.write_text(KEYSTONE_VERSION)

    def argv(self) -> list[str]:
        script = REPO / "devstack" / "keystone" / "serve.py"
        conf = KEYSTONE_DIR / "keystone.conf"
        return [str(KEYSTONE_VENV / "bin" / "python"), str(script), str(conf), HOST, str(PORTS["keystone"])]

    def ready(self) -> bool:
        return http_ok(KEYSTONE_URL)


class SwiftProxyKeystone(SwiftService):
    """A second proxy on the same rings and storage servers, taking Keystone tokens."""

    name = "swift-proxy-keystone"
    port = PORTS["swift-proxy-keystone"]
    server, conf_kind = "proxy", "proxy-keystone"
    start_timeout = 60
    needs = ("keystone", "memcached", "swift-object", "swift-container", "swift-account")

    def configure(self) -> None:
        """Swift's configuration, Keystone's users and endpoint, then this proxy's own configuration."""
        super().configure()
        provision_keystone()
        pw = secrets_file()
        etc = SWIFT_DIR / "etc"
        (etc / "proxy-keystone-server.conf").write_text(
            proxy_conf(
                PORTS["swift-proxy-keystone"],
                "authtoken keystoneauth",
                "[filter:authtoken]\npaste.filter_factory = keystonemiddleware.auth_token:filter_factory\n"
                f"www_authenticate_uri = {KEYSTONE_URL}\nauth_url = {KEYSTONE_URL}\nauth_type = password\n"
                "project_domain_name = Default\nuser_domain_name = Default\nproject_name = service\n"
                f"username = swift\npassword = {pw['keystone_swift']}\ndelay_auth_decision = True\n"
                "cache = swift.cache\n\n"
                "[filter:keystoneauth]\nuse = egg:swift#keystoneauth\noperator_roles = admin, member\n",
            )
        )

    def ready(self) -> bool:
        """alice's token opens her project's account: Keystone, authtoken and keystoneauth all answered."""
        pw = secrets_file()
        user, project = KEYSTONE_USER, KEYSTONE_PROJECT
        password = pw["keystone_alice"]
        answer = keystone_auth(user["name"], password, user["domain"], project["name"], project["domain"])
        (store,) = [entry for entry in answer["token"]["catalog"] if entry["type"] == "object-store"]
        (url,) = [e["url"] for e in store["endpoints"] if e["interface"] == KEYSTONE_INTERFACE]
        return http_ok(url, {"X-Auth-Token": answer["token_id"]}, method="HEAD")


def connections() -> dict[str, dict]:
    pw = secrets_file()
    return {
        # The same Swift cluster through Keystone v3 (see KEYSTONE_PROJECT): the hook's other auth path.
        "swift_keystone": {
            "conn_type": "swift",
            "host": HOST,
            "port": PORTS["keystone"],
            "login": KEYSTONE_USER["name"],
            "password": pw["keystone_alice"],
            "extra": {
                "auth_version": 3,  # a number: Airflow masks extra strings, and warns on short ones
                "project_name": KEYSTONE_PROJECT["name"],
                "project_domain_name": KEYSTONE_PROJECT["domain"],
                "user_domain_name": KEYSTONE_USER["domain"],
                "region_name": KEYSTONE_REGION,
                "interface": KEYSTONE_INTERFACE,
            },
        },
    }
