"""Redis (Debian's redis-server): the Celery broker, with DATALAKE_EXECUTOR=celery only."""

from __future__ import annotations

import shutil
import socket

from service import HOST, PORTS, STACK, Service, apt_install, secrets_file


class Redis(Service):
    name = "redis"
    port = PORTS["redis"]
    start_timeout = 30

    def install(self) -> None:
        if not shutil.which("redis-server"):
            apt_install("redis-server")

    def configure(self) -> None:
        """The password goes in a 0600 file in the stack folder, not in argv, where `ps` would show it."""
        password = secrets_file()["redis"]  # makes the stack folder
        conf = STACK / "redis.conf"
        conf.touch(mode=0o600)
        conf.chmod(0o600)
        conf.write_text(f'requirepass "{password}"\n')

    def argv(self) -> list[str]:
        """Debian's redis-server on loopback, password from the stack's secrets, nothing written to disk."""
        return [
            shutil.which("redis-server") or "redis-server",
            str(STACK / "redis.conf"),
            "--bind",
            HOST,
            "--port",
            str(PORTS["redis"]),
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(STACK),
        ]

    def ready(self) -> bool:
        """A real answer: PING with the password, over the wire protocol (no client library needed)."""
        with socket.create_connection((HOST, PORTS["redis"]), timeout=2) as conn:
            password = secrets_file()["redis"].encode()
            conn.sendall(b"*2\r\n$4\r\nAUTH\r\n$%d\r\n%s\r\n*1\r\n$4\r\nPING\r\n" % (len(password), password))
            answer = b""
            while answer.count(b"\r\n") < 2:
                chunk = conn.recv(64)
                if not chunk:
                    break
                answer += chunk
        return answer == b"+OK\r\n+PONG\r\n"
