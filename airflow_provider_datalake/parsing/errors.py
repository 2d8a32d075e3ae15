"""The two ways a parse can fail: one value (the row is quarantined) or the whole input (the load fails)."""

from __future__ import annotations

from typing import Any


class ParseError(ValueError):
    """The input as a whole cannot be parsed with this descriptor (not JSON at all, unreadable CSV header).

    Row-level problems never raise: they become `BadRow`s. The message says where (byte offset or line).
    """


class ConversionError(ValueError):
    """One value could not go through a field's converters, expression or typing.

    `args` are exactly the constructor's arguments, so the error pickles (Airflow may ship it between
    processes) and `str()` stays human.
    """

    def __init__(self, field: str, value: Any, reason: str) -> None:
        super().__init__(field, value, reason)
        self.field = field
        self.value = value
        self.reason = reason

    def __str__(self) -> str:
        return f"{self.field}: {self.reason}"
