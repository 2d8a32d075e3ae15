"""Neo4j Community (the gold zone's graph store): jars from Maven Central, run by our embedded launcher.

Maven resolves the classpath of ``devstack/neo4j/pom.xml`` and javac compiles ``Launcher.java`` once, into
a cache folder keyed on both files. The launcher serves Bolt only, on loopback, with the password of user
``neo4j`` from the stack's secrets.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import socket
import sys
from types import ModuleType

from service import (
    CACHE,
    HOST,
    PORTS,
    REPO,
    STACK,
    Service,
    StackError,
    apt_install,
    log,
    port_open,
    run,
    secrets_file,
)

NEO4J_SRC = REPO / "devstack" / "neo4j"
NEO4J_LAUNCHER = NEO4J_SRC / "src" / "org" / "neocampus" / "datalake" / "devstack" / "Launcher.java"


def _pom_property(name: str) -> str:
    """A version property of our pom.xml (the one place the Neo4j and plugin versions are written)."""
    found = re.search(rf"<{re.escape(name)}>([^<]+)<", (NEO4J_SRC / "pom.xml").read_text())
    if not found:
        raise StackError(f"{NEO4J_SRC / 'pom.xml'} has no <{name}>")
    return found.group(1)


NEO4J_VERSION = _pom_property("neo4j.version")
# Called by its full coordinates, so Maven looks up no plugin prefix nor a newest version.
DEPENDENCY_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:" + _pom_property(
    "dependency-plugin.version"
)
# Keyed on our pom.xml and launcher: a change to either resolves and compiles again.
NEO4J_KEY = hashlib.sha256((NEO4J_SRC / "pom.xml").read_bytes() + NEO4J_LAUNCHER.read_bytes()).hexdigest()
NEO4J_BUILD = CACHE / f"neo4j-{NEO4J_VERSION}-{NEO4J_KEY[:12]}"
NEO4J_HEAP = "1g"  # bounded; the gold zone loads batches of thousands of nodes


def java_major(java: str) -> int:
    out = run([java, "-version"]).stderr  # e.g. openjdk version "17.0.15" 2025-04-15
    found = re.search(r'version "(\d+)(?:\.(\d+))?', out)
    if not found:
        raise StackError(f"cannot read the Java version from `{java} -version`:\n{out}")
    major = int(found.group(1))
    return int(found.group(2) or 0) if major == 1 else major


def import_neo4j_driver() -> ModuleType:
    """The neo4j driver, imported without numpy, pandas and pyarrow.

    The driver imports them when installed, for its DataFrame export, which a readiness probe never uses;
    they would only slow every `up` and `status` down. They are hidden during the import only, so this
    process can still import them.
    """
    if "neo4j" in sys.modules:
        return sys.modules["neo4j"]
    hidden = [name for name in ("numpy", "pandas", "pyarrow") if name not in sys.modules]
    sys.modules.update(dict.fromkeys(hidden))  # type: ignore[arg-type]  # None: `import pandas` raises ImportError
    try:
        import neo4j
    finally:
        for name in hidden:
            if sys.modules.get(name, False) is None:
                del sys.modules[name]
    return neo4j


class Neo4j(Service):
    name = "neo4j"
    port = PORTS["neo4j"]
    start_timeout = 120

    def install(self) -> None:
        """Neo4j Community jars from Maven Central (Maven resolves the classpath), our launcher javac'd."""
        if (NEO4J_BUILD / ".complete").exists():
            return
        if not all(shutil.which(tool) for tool in ("java", "javac", "mvn")):
            apt_install("openjdk-17-jdk-headless", "maven")  # or says what to install, and stops
        java, javac, mvn = (shutil.which(tool) for tool in ("java", "javac", "mvn"))
        if not (java and javac and mvn):
            raise StackError("Neo4j needs a JDK 17 or 21 (java, javac) and Maven (mvn) on PATH")
        if java_major(java) not in (17, 21):
            raise StackError(f"Neo4j {NEO4J_VERSION} runs on Java 17 or 21, not {java_major(java)} ({java})")
        log(
            f"resolving Neo4j {NEO4J_VERSION} from Maven Central and compiling our launcher (first time only)"
        )
        shutil.rmtree(NEO4J_BUILD, ignore_errors=True)
        (NEO4J_BUILD / "classes").mkdir(parents=True)
        classpath = NEO4J_BUILD / "classpath.txt"
        run(
            [
                mvn,
                "-B",
                "-q",
                f"-Dmaven.repo.local={CACHE / 'm2'}",
                "-f",
                str(NEO4J_SRC / "pom.xml"),
                f"{DEPENDENCY_PLUGIN}:build-classpath",
                f"-Dmdep.outputFile={classpath}",
            ]
        )
        run(
            [
                javac,
                "--release",
                "17",
                "-nowarn",
                "-d",
                str(NEO4J_BUILD / "classes"),
                "-cp",
                classpath.read_text().strip(),
                str(NEO4J_LAUNCHER),
            ]
        )
        (NEO4J_BUILD / ".complete").write_text(NEO4J_VERSION)

    def argv(self) -> list[str]:
        classpath = f"{NEO4J_BUILD / 'classes'}:{(NEO4J_BUILD / 'classpath.txt').read_text().strip()}"
        return [
            shutil.which("java") or "java",
            f"-Xms{NEO4J_HEAP}",
            f"-Xmx{NEO4J_HEAP}",
            "-XX:+UseG1GC",
            "-XX:-OmitStackTraceInFastThrow",
            "-XX:+ExitOnOutOfMemoryError",
            "-Djdk.nio.maxCachedBufferSize=1024",
            "-Dio.netty.tryReflectionSetAccessible=true",
            # What Neo4j's own start script opens, so its page cache and Netty take their fast paths.
            "--add-opens=java.base/java.nio=ALL-UNNAMED",
            "--add-opens=java.base/java.io=ALL-UNNAMED",
            "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED",
            "--add-opens=java.base/java.lang=ALL-UNNAMED",
            "-cp",
            classpath,
            "org.neocampus.datalake.devstack.Launcher",
            str(STACK / "neo4j"),
            HOST,
            str(PORTS["neo4j"]),
        ]

    def env(self) -> dict[str, str]:
        """User neo4j's password for the launcher: initial at first start, set again later (never in argv)."""
        return {"NEO4J_PASSWORD": secrets_file()["neo4j"]}

    def ready(self) -> bool:
        """A Cypher query answers over Bolt, authenticated (one try: `execute_query` would retry for 30 s)."""
        if not port_open(PORTS["neo4j"]):
            return False
        neo4j = import_neo4j_driver()
        url, auth = f"bolt://{HOST}:{PORTS['neo4j']}", ("neo4j", secrets_file()["neo4j"])
        # The driver bounds only the TCP connect; its sockets then read with the default timeout (None: a
        # stalled server would hang `up` and `status` for ever). Sockets made meanwhile keep these 5 s.
        previous = socket.getdefaulttimeout()
        socket.setdefaulttimeout(5)
        try:
            timeouts = {"connection_timeout": 2, "connection_acquisition_timeout": 5}
            driver = neo4j.GraphDatabase.driver(url, auth=auth, **timeouts)
            with driver, driver.session() as session:
                return session.run("RETURN 1 AS one").single()["one"] == 1
        finally:
            socket.setdefaulttimeout(previous)


def connections() -> dict[str, dict]:
    return {
        # The official Neo4jHook: bolt://host:port (no neo4j_scheme, no TLS on loopback); schema = database.
        "neo4j_default": {
            "conn_type": "neo4j",
            "host": HOST,
            "port": PORTS["neo4j"],
            "login": "neo4j",
            "password": secrets_file()["neo4j"],
            "schema": "neo4j",
            "extra": {"encrypted": False},
        },
    }
