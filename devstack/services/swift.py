"""OpenStack Swift: object, container and account servers on one-replica rings, and a TempAuth proxy.

Swift runs from its own locked virtual environment (``devstack/locks/swift.lock``, with keystonemiddleware
for the Keystone proxy of ``keystone.py``). The configuration is written at every start; the rings are built
once per stack folder.
"""

from __future__ import annotations

import secrets
import urllib.request

import envs  # devstack/envs.py: the locked Python environments
from service import HOST, PORTS, STACK, Service, http_ok, os_user, port_open, run, secrets_file, venv_install

from services.memcached import install_memcached

SWIFT_VERSION = envs.pinned("swift", "swift")
SWIFT_VENV = envs.venv_path("swift")
SWIFT_DIR = STACK / "swift"
STORAGE_KINDS = ("object", "container", "account")

# Swift's usual middleware, each from its egg under its own name.
_PROXY_FILTERS = (
    *("catch_errors", "gatekeeper", "healthcheck", "proxy-logging", "listing_formats", "bulk"),
    *("tempurl", "slo", "dlo", "copy", "symlink"),
)


def swift_bin(name: str) -> str:
    return str(SWIFT_VENV / "bin" / name)


def conf_path(kind: str) -> str:
    """The configuration file of one server: ``object``, ``container``, ``account``, ``proxy``..."""
    return str(SWIFT_DIR / "etc" / f"{kind}-server.conf")


def install_swift() -> None:
    """memcached (every proxy caches through it) and Swift's environment."""
    install_memcached()
    venv_install("swift", f"OpenStack Swift {SWIFT_VERSION}")


def swift_conf_common(port: int) -> str:
    return (
        "[DEFAULT]\n"
        f"bind_ip = {HOST}\nbind_port = {port}\nworkers = 0\nuser = {os_user()}\n"
        f"swift_dir = {SWIFT_DIR / 'etc'}\ndevices = {SWIFT_DIR / 'srv'}\nmount_check = false\n"
        "log_level = INFO\n"
    )


def catalogue_filter() -> str:
    """The data lake's catalogue middleware (``datalake_catalog``, installed into Swift's environment from
    the checkout), watching every container of every account but the lake's quarantine and the tests'
    isolated lakes."""
    return (
        "[filter:datalake_catalog]\nuse = egg:datalake-catalog#datalake_catalog\n"
        f"catalog_uri = mongodb://{HOST}:{PORTS['ferretdb']}/\ncatalog_database = datalake\n"
        # The tests' isolated lakes (`lake` in tests/conftest.py: containers test-raw-*) and the benchmarks'
        # (bench-*) keep their records in a catalog database of their own, which the middleware does not
        # read: it would wait for their pending records, then catalogue their objects a second time.
        "watch = */*\nexclude = */datalake-quarantine, */test-raw-*, */bench-*\n\n"
    )


def proxy_conf(port: int, auth: str, auth_sections: str, app_extra: str = "", s3: bool = False) -> str:
    """A proxy server's configuration: the usual pipeline with ``auth`` (its middleware names) in it, the
    lake's catalogue middleware after auth, copy, slo and dlo (so it sees every object write as a plain
    PUT), and with ``s3`` Swift's S3 API before auth (the order Swift's s3api documentation gives)."""
    pipeline = (
        "catch_errors gatekeeper healthcheck proxy-logging cache listing_formats bulk tempurl "
        f"{'s3api ' if s3 else ''}{auth} copy slo dlo datalake_catalog symlink proxy-logging proxy-server"
    )
    usual = "".join(f"[filter:{f}]\nuse = egg:swift#{f.replace('-', '_')}\n\n" for f in _PROXY_FILTERS)
    s3api = "[filter:s3api]\nuse = egg:swift#s3api\nlocation = us-east-1\n\n" if s3 else ""
    return (
        f"{swift_conf_common(port)}\n[pipeline:main]\npipeline = {pipeline}\n\n"
        f"[app:proxy-server]\nuse = egg:swift#proxy\naccount_autocreate = true\n{app_extra}\n"
        f"{auth_sections}\n"
        f"[filter:cache]\nuse = egg:swift#memcache\nmemcache_servers = {HOST}:{PORTS['memcached']}\n\n"
        f"{usual}{s3api}{catalogue_filter()}"
    )


def configure_swift() -> None:
    """Write Swift's configuration and build one-replica rings with one device (idempotent)."""
    etc = SWIFT_DIR / "etc"
    (SWIFT_DIR / "srv" / "d1").mkdir(parents=True, exist_ok=True)
    etc.mkdir(parents=True, exist_ok=True)
    pw = secrets_file()
    conf = etc / "swift.conf"
    if not conf.exists():
        conf.write_text(
            "[swift-hash]\n"
            f"swift_hash_path_suffix = {secrets.token_hex(8)}\n"
            f"swift_hash_path_prefix = {secrets.token_hex(8)}\n\n"
            "[storage-policy:0]\nname = gold\ndefault = yes\n\n"
            "[swift-constraints]\nmax_file_size = 5368709122\n"
        )
    for kind in STORAGE_KINDS:
        port = PORTS[f"swift-{kind}"]
        (etc / f"{kind}-server.conf").write_text(
            swift_conf_common(port)
            + f"\n[pipeline:main]\npipeline = {kind}-server\n\n[app:{kind}-server]\nuse = egg:swift#{kind}\n"
            + f"\n[{kind}-replicator]\n[{kind}-updater]\n[{kind}-auditor]\n"
        )
        builder = etc / f"{kind}.builder"
        if not (etc / f"{kind}.ring.gz").exists():
            rb = swift_bin("swift-ring-builder")
            builder.unlink(missing_ok=True)
            run([rb, str(builder), "create", "10", "1", "1"])
            run([rb, str(builder), "add", f"r1z1-{HOST}:{port}/d1", "1"])
            run([rb, str(builder), "rebalance"])
    (etc / "proxy-server.conf").write_text(
        proxy_conf(
            PORTS["swift-proxy"],
            "tempauth",
            "[filter:tempauth]\nuse = egg:swift#tempauth\n"
            f"user_admin_admin = {pw['swift_admin']} .admin .reseller_admin\n"
            f"user_test_tester = {pw['swift_tester']} .admin\n",
            app_extra="allow_account_management = true\n",
            s3=True,
        )
    )


def swift_auth() -> tuple[str, str]:
    """The storage URL and a token of user ``test:tester``, from TempAuth."""
    pw = secrets_file()
    req = urllib.request.Request(
        f"http://{HOST}:{PORTS['swift-proxy']}/auth/v1.0",
        headers={"X-Auth-User": "test:tester", "X-Auth-Key": pw["swift_tester"]},
    )
    with urllib.request.urlopen(req, timeout=5) as resp:  # noqa: S310
        return resp.headers["X-Storage-Url"], resp.headers["X-Auth-Token"]


class SwiftService(Service):
    """Any Swift server: Swift's environment, the stack's Swift configuration, and its own config file."""

    server: str  # the program, swift-<server>-server
    conf_kind: str  # its configuration, <conf_kind>-server.conf

    def install(self) -> None:
        install_swift()

    def configure(self) -> None:
        configure_swift()

    def argv(self) -> list[str]:
        return [swift_bin(f"swift-{self.server}-server"), conf_path(self.conf_kind), "-v"]


class SwiftStorageServer(SwiftService):
    """The object, container or account server: ready once it listens."""

    start_timeout = 30

    def __init__(self, kind: str) -> None:
        self.server = self.conf_kind = kind
        self.name = f"swift-{kind}"
        self.port = PORTS[self.name]

    def ready(self) -> bool:
        return port_open(PORTS[self.name])


class SwiftProxy(SwiftService):
    """The proxy with TempAuth: ready once an authenticated HEAD of the test account answers."""

    name = "swift-proxy"
    port = PORTS["swift-proxy"]
    server = conf_kind = "proxy"
    start_timeout = 45

    def ready(self) -> bool:
        url, token = swift_auth()
        return http_ok(url, {"X-Auth-Token": token}, method="HEAD")


def connections() -> dict[str, dict]:
    pw = secrets_file()
    return {
        "swift_default": {
            "conn_type": "swift",
            "host": HOST,
            "port": PORTS["swift-proxy"],
            "login": "test:tester",
            "password": pw["swift_tester"],
            # TempAuth v1 is the hook's default: no `auth_version` extra (Airflow masks every string of a
            # connection's extra, and warns on stdout about each one too short to mask, like "1.0").
        },
    }


def s3_env() -> dict[str, str]:
    """The S3 API of the stack's Swift proxy (s3api; TempAuth's user and key as the S3 keys)."""
    return {
        "DATALAKE_S3_ENDPOINT": f"http://{HOST}:{PORTS['swift-proxy']}",
        "DATALAKE_S3_ACCESS_KEY": "test:tester",
        "DATALAKE_S3_SECRET_KEY": secrets_file()["swift_tester"],
        "DATALAKE_S3_REGION": "us-east-1",
    }
