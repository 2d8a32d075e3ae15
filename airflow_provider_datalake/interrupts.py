"""Signals during a rollback, and the fault points the crash tests stop a writer at.

A Ctrl-C during an insert starts its rollback: the object (and its segments) deleted, then the record. A
second Ctrl-C while that runs (a user impatient with a slow server) must not cut it short, or the pending
record would stay for `reconcile` to find after its lease while the CLI had already said "rolled back". So
the rollback holds further interrupts (`interrupts_held`) and delivers the first one when it is done.

`failpoint` lets the crash tests kill or interrupt a writer at a named point of the insert protocol.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

_HELD = (signal.SIGINT, signal.SIGTERM)


@contextmanager
def interrupts_held() -> Iterator[None]:
    """Hold SIGINT and SIGTERM while the block runs, when Python handles them (Ctrl-C always is, SIGTERM
    under the `datalake` script); the first one that came is delivered to its handler afterwards.

    Only the main thread receives Python signals, so elsewhere this does nothing. Nested blocks pass what
    they held on to the enclosing one.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    held: list[tuple[int, FrameType | None]] = []
    previous: dict[int, Any] = {}
    for signum in _HELD:
        handler = signal.getsignal(signum)
        if callable(handler):
            previous[signum] = handler
            signal.signal(signum, lambda num, frame: held.append((num, frame)))
    try:
        yield
    finally:
        for num, handler in previous.items():
            signal.signal(num, handler)
    if held:
        first, frame = held[0]
        previous[first](first, frame)


def failpoint(name: str) -> None:
    """Fault injection for the crash tests: ``DATALAKE_FAILPOINT=<name>`` SIGKILLs this process right here.

    ``<name>:sigint`` sends SIGINT instead (Ctrl-C: a KeyboardInterrupt the rollback must handle), and
    ``<name>:sigint:<seconds>`` sends it that long after the point, wherever the process is by then. Several
    points, comma-separated, each fire once. A real signal (not an exception raised here) is the only
    honest way to prove the protocol survives it.
    """
    spec = os.environ.get("DATALAKE_FAILPOINT", "")
    for one in filter(None, spec.split(",")):
        point, _, mode = one.partition(":")
        if point != name or one in _fired:
            continue
        _fired.add(one)
        if not mode:
            os.kill(os.getpid(), signal.SIGKILL)
        sig, _, delay = mode.partition(":")
        if sig != "sigint":
            raise ValueError(f"DATALAKE_FAILPOINT={spec!r}: expected <point>, <point>:sigint[:<seconds>]")
        if delay:
            threading.Timer(float(delay), os.kill, (os.getpid(), signal.SIGINT)).start()
        else:
            os.kill(os.getpid(), signal.SIGINT)


_fired: set[str] = set()
