"""The browser the UI tests drive: Debian's Chromium and its ChromeDriver, installed like a service's package.

``python devstack/stack.py browser`` (``make browser``, a prerequisite of ``make test``) installs the Debian
packages ``chromium`` and ``chromium-driver`` when either program is missing, then checks that the two share
a major version: ChromeDriver drives only its own Chromium, and a mismatch otherwise surfaces as an opaque
"session not created" in the middle of a test run. The versions seen are logged and written to
``browser.json`` in the stack folder, so a failing browser test can be matched with the browser it ran.

Nothing here or in the tests ever downloads a browser or a driver (Selenium Manager stays off): the machine's
closed network has only Debian's mirror and the package registries. Standard library only, as the stack.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

from service import STACK, StackError, apt_install, log

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
PACKAGES = ("chromium", "chromium-driver")
VERSIONS_FILE = "browser.json"

_VERSION = re.compile(r"\b(\d+)\.\d+\.\d+\.\d+\b")


def parse_version(output: str, program: str) -> str:
    """The ``156.0.8078.73`` of a ``--version`` line (Chromium's and ChromeDriver's share that shape)."""
    match = _VERSION.search(output)
    if not match:
        raise StackError(f"cannot read a version from `{program} --version`: {output.strip()!r}")
    return match.group(0)


def major(version: str) -> int:
    return int(version.split(".", 1)[0])


def program_version(program: Path) -> str:
    """``program --version``, parsed; a program that does not answer is a broken install, said loudly."""
    try:
        proc = subprocess.run(
            [str(program), "--version"], capture_output=True, text=True, timeout=60, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise StackError(f"`{program} --version` failed: {exc}") from exc
    if proc.returncode != 0:
        raise StackError(f"`{program} --version` exited {proc.returncode}:\n{proc.stdout}{proc.stderr}")
    return parse_version(proc.stdout, str(program))


def check_versions(chromium: str, chromedriver: str) -> None:
    """ChromeDriver N drives Chromium N only: any other pairing fails every test, so fail here instead."""
    if major(chromium) != major(chromedriver):
        raise StackError(
            f"Chromium {chromium} and ChromeDriver {chromedriver} differ in major version: reinstall both "
            f"from one Debian release (`apt-get install --reinstall {' '.join(PACKAGES)}`)"
        )


def missing() -> list[Path]:
    return [path for path in (CHROMIUM, CHROMEDRIVER) if not os.access(path, os.X_OK)]


def ensure_browser() -> dict[str, str]:
    """Chromium and ChromeDriver present, of one major version; returns and records their versions."""
    if missing():
        try:
            apt_install(*PACKAGES)
        except StackError as exc:
            raise StackError(f"the browser tests need Debian's Chromium and ChromeDriver: {exc}") from exc
        if still := missing():
            raise StackError(
                f"`apt-get install {' '.join(PACKAGES)}` succeeded but {', '.join(map(str, still))} "
                "is still missing"
            )
    versions = {"chromium": program_version(CHROMIUM), "chromedriver": program_version(CHROMEDRIVER)}
    check_versions(versions["chromium"], versions["chromedriver"])
    STACK.mkdir(parents=True, exist_ok=True)
    (STACK / VERSIONS_FILE).write_text(json.dumps(versions, indent=2) + "\n")
    log(f"browser: Chromium {versions['chromium']}, ChromeDriver {versions['chromedriver']}")
    return versions
