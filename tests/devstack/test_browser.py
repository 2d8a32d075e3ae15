"""The browser check of the stack (devstack/browser.py): reading versions, refusing a mismatched pair."""

from __future__ import annotations

import importlib

import pytest

from tests.conftest import REPO


@pytest.fixture
def browser_check(monkeypatch: pytest.MonkeyPatch):
    # devstack/ runs as a folder of scripts (stack.py imports its siblings by their bare names).
    monkeypatch.syspath_prepend(str(REPO / "devstack"))
    return importlib.import_module("browser")


def test_versions_are_read_from_both_programs_version_lines(browser_check) -> None:
    chromium = "Chromium 156.0.8078.129 built on Debian GNU/Linux 12 (bookworm)\n"
    driver = "ChromeDriver 156.0.8078.129 (1a2e4e6fe632976b81792a677a258fff32de7c05-refs/branch-heads/8078)"
    assert browser_check.parse_version(chromium, "chromium") == "156.0.8078.129"
    assert browser_check.parse_version(driver, "chromedriver") == "156.0.8078.129"
    assert browser_check.major("156.0.8078.129") == 156


def test_an_unreadable_version_line_fails_naming_the_program(browser_check) -> None:
    with pytest.raises(browser_check.StackError, match="chromedriver"):
        browser_check.parse_version("command not found", "chromedriver")


def test_a_driver_of_another_major_version_is_refused(browser_check) -> None:
    browser_check.check_versions("156.0.8078.129", "156.0.8078.73")  # the same major: drivable
    with pytest.raises(browser_check.StackError, match="differ in major version"):
        browser_check.check_versions("156.0.8078.129", "155.0.7999.10")
