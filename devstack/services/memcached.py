"""memcached: Swift's cache for tokens and account/container information (Debian's package)."""

from __future__ import annotations

import shutil

from service import HOST, PORTS, Service, apt_install, is_root, port_open


def install_memcached() -> None:
    if not shutil.which("memcached"):
        apt_install("memcached")


class Memcached(Service):
    name = "memcached"
    port = PORTS["memcached"]
    start_timeout = 15

    def install(self) -> None:
        install_memcached()

    def argv(self) -> list[str]:
        return [
            shutil.which("memcached") or "memcached",
            "-l",
            HOST,
            "-p",
            str(PORTS["memcached"]),
            "-U",
            "0",
            "-m",
            "64",
            *(["-u", "root"] if is_root() else []),
        ]

    def ready(self) -> bool:
        return port_open(PORTS["memcached"])
