"""Browser tests in a real headless Chromium, driven by Selenium: start the browser, screenshot, log in.

The browser is Debian's Chromium with its ChromeDriver (``make browser`` installs both and checks that their
major versions match, devstack/browser.py). Selenium is always given both paths, so Selenium Manager, which
would otherwise download a driver or a browser, is never consulted; ``SE_OFFLINE`` forbids it any network
all the same. Chromium gets the flags this machine's closed network needs: without the background-networking
ones it tries Google's hosts at every start, and each refused connection slows it down.

The fixtures built on these helpers live in the conftest of the tests that use them (``tests/plugins/``).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import urlencode

import pytest
from selenium import webdriver
from selenium.common.exceptions import TimeoutException, WebDriverException
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

from tests.conftest import STACK_DIR

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
WINDOW = (1400, 1000)
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",  # the tests run as root, where Chromium's sandbox refuses to start
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)

# Airflow 3.3's UI: the sidebar of every page, and the Simple auth manager's login form.
AIRFLOW_NAV = '[data-testid="nav-sidebar"]'
LOGIN_USERNAME = 'input[name="username"]'
LOGIN_PASSWORD = 'input[name="password"]'
LOGIN_SUBMIT = 'button[type="submit"]'
# The form's alerts carry neither a role nor a status: the error is the one that appears on submitting
# (an information banner may stand there from the start).
LOGIN_ALERT = ".chakra-alert__root"


def screenshot_dir() -> Path:
    """Where ``shot`` writes: ``$DATALAKE_SCREENSHOTS``, else ``screenshots/`` in the stack folder
    (git-ignored, beside the servers' logs that a failing UI test is read with)."""
    return Path(os.environ.get("DATALAKE_SCREENSHOTS") or STACK_DIR / "screenshots")


def missing_browser() -> list[Path]:
    return [path for path in (CHROMIUM, CHROMEDRIVER) if not os.access(path, os.X_OK)]


def start_chromium(profile_dir: Path, log_path: Path | None = None) -> WebDriver:
    """A new headless Chromium of ``WINDOW`` size, with the empty profile folder ``profile_dir``.

    Fails the test, rather than skipping it, when the browser is missing or will not start: a browser test
    that quietly does not run looks like one that passed.
    """
    if absent := missing_browser():
        pytest.fail(
            f"the browser tests need {', '.join(map(str, absent))}: run `make browser` "
            "(Debian's chromium and chromium-driver)"
        )
    # Selenium Manager is skipped when the driver's path is given; should anything reach it, no download.
    os.environ["SE_OFFLINE"] = "true"
    os.environ["SE_AVOID_STATS"] = "true"
    options = Options()
    options.binary_location = str(CHROMIUM)
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile_dir}")
    options.add_argument(f"--window-size={WINDOW[0]},{WINDOW[1]}")
    if log_path is not None:
        log_path.parent.mkdir(parents=True, exist_ok=True)  # chromedriver exits at once without its folder
    service = Service(executable_path=str(CHROMEDRIVER), log_output=str(log_path) if log_path else None)
    try:
        driver = webdriver.Chrome(service=service, options=options)
    except WebDriverException as exc:
        pytest.fail(
            f"Chromium ({CHROMIUM}) did not start under {CHROMEDRIVER}: {exc.msg or exc}\n"
            f"chromedriver's log: {log_path or '(not kept)'}; `make browser` reinstalls both and checks that "
            "their versions match"
        )
    driver.set_window_size(*WINDOW)
    return driver


def shot(driver: WebDriver, name: str) -> Path:
    """Save what the browser shows as ``<name>.png`` in ``screenshot_dir()``, and return its path."""
    folder = screenshot_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{re.sub(r'[^A-Za-z0-9._-]+', '-', name).strip('-') or 'screenshot'}.png"
    if not driver.save_screenshot(str(path)):
        pytest.fail(f"the browser could not save a screenshot to {path}")
    return path


def wait_for_css(driver: WebDriver, selector: str, what: str, timeout: float = 30) -> None:
    """Wait until an element matching ``selector`` is on the page; the test fails naming ``what``."""
    try:
        WebDriverWait(driver, timeout).until(lambda d: d.find_elements(By.CSS_SELECTOR, selector))
    except TimeoutException:
        pytest.fail(f"{what} ({selector}) did not appear within {timeout:.0f}s at {driver.current_url}")


def airflow_password(username: str) -> str | None:
    """The stack's password for Airflow's ``username`` (admin, operator, viewer), from ``.stack/env``; None
    while the stack runs Airflow with every user an admin and no login at all."""
    return os.environ.get(f"DATALAKE_AIRFLOW_{username.upper()}_PASSWORD") or None


def airflow_login(
    driver: WebDriver, base_url: str, username: str, password: str | None, timeout: float = 30
) -> bool:
    """Open Airflow's UI at ``base_url`` as ``username``; True if the login form was filled in.

    Airflow's Simple auth manager either shows its login form (users with passwords) or, with
    ``simple_auth_manager_all_admins``, lets everyone in as an admin without one. Cookies are dropped first,
    so an earlier login as another user of the session's browser does not carry over. The way in is the API
    server's ``/api/v2/auth/login``, which sends the browser to its auth manager's login page and from there
    back to the UI: opening the UI itself would render its navigation before its first request is refused,
    and an anonymous visitor would look logged in. Returns once the UI's navigation has rendered; fails the
    test when the login is refused or a password is needed but not given.
    """
    home = base_url.rstrip("/") + "/"
    driver.get(home)
    driver.delete_all_cookies()  # cookies belong to the page's origin: drop them once on it
    driver.get(f"{base_url.rstrip('/')}/api/v2/auth/login?{urlencode({'next': home})}")
    selector = f"{AIRFLOW_NAV}, {LOGIN_USERNAME}"
    wait_for_css(driver, selector, "Airflow's navigation or its login form", timeout)
    if not driver.find_elements(By.CSS_SELECTOR, LOGIN_USERNAME):
        return False  # no login form: every user is an admin
    if not password:
        pytest.fail(
            f"Airflow at {base_url} asks for a login, but no password was given for {username!r} "
            f"(DATALAKE_AIRFLOW_{username.upper()}_PASSWORD in .stack/env)"
        )
    banners = {el.text for el in driver.find_elements(By.CSS_SELECTOR, LOGIN_ALERT)}
    driver.find_element(By.CSS_SELECTOR, LOGIN_USERNAME).send_keys(username)
    driver.find_element(By.CSS_SELECTOR, LOGIN_PASSWORD).send_keys(password)
    driver.find_element(By.CSS_SELECTOR, LOGIN_SUBMIT).click()

    def answered(d: WebDriver) -> list[str] | bool:
        if d.find_elements(By.CSS_SELECTOR, AIRFLOW_NAV):
            return True
        return [el.text for el in d.find_elements(By.CSS_SELECTOR, LOGIN_ALERT) if el.text not in banners]

    try:
        answer = WebDriverWait(driver, timeout).until(answered)
    except TimeoutException:
        pytest.fail(f"Airflow neither opened nor refused the login of {username!r} within {timeout:.0f}s")
    if answer is not True:
        message = " ".join(str(answer[0]).split()) if isinstance(answer, list) else ""
        pytest.fail(f"Airflow refused the login of {username!r}: {message or '(no message)'}")
    return True
