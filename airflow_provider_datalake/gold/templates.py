"""Names of gold objects templated over a row's fields (an InfluxDB measurement or field key: '{{ kind }}').

Rendered in the project's tightened Jinja sandbox, the one field expressions run in; a render that fails
rejects the row, not the load.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

from airflow_provider_datalake.descriptors.model import _template_fields, is_template


@functools.cache
def _sandbox() -> Any:
    """The tightened sandbox of field expressions (unsafe attributes raise, huge `*` / `**` are refused);
    a null value renders as nothing (not 'None'), so an absent unit gives an empty, refused, key."""
    # Imported here: Jinja is needed only by targets with templated names.
    from airflow_provider_datalake.parsing.expressions import _Sandbox

    return _Sandbox(optimized=False, finalize=lambda value: "" if value is None else value)  # see expressions


class RowTemplate:
    """A descriptor template ('{{ kind }}') over a row's fields; a plain name is returned as is.

    Rendered once per distinct tuple of the values it reads (a per-sensor-kind measurement renders once
    per kind, however many rows), up to ``CACHE`` distinct tuples.
    """

    CACHE = 100_000

    def __init__(self, source: str, columns: Sequence[str]) -> None:
        self.source = source
        self.constant: str | None = None if is_template(source) else source
        names = _template_fields(source)
        self.names = names
        self.indexes = [list(columns).index(n) for n in names]
        self.cache: dict[tuple[Any, ...], str] = {}
        if self.constant is None:
            self.template = _sandbox().from_string(source)

    def __call__(self, row: tuple[Any, ...]) -> str:
        """The rendered text; raises ValueError (the row is then rejected) when rendering fails."""
        if self.constant is not None:
            return self.constant
        key = tuple(row[i] for i in self.indexes)
        try:
            return self.cache[key]
        except KeyError:
            pass
        except TypeError:  # a json value (dict, list) is not hashable: render without the cache
            return self._render(key)
        text = self._render(key)
        if len(self.cache) < self.CACHE:
            self.cache[key] = text
        return text

    def _render(self, values: tuple[Any, ...]) -> str:
        try:
            return str(self.template.render(dict(zip(self.names, values, strict=True)))).strip()
        except Exception as exc:
            raise ValueError(f"template {self.source!r} failed: {type(exc).__name__}: {exc}") from None
