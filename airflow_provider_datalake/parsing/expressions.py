"""Field expressions: sandboxed Jinja2, compiled once per field, evaluated once per row.

Descriptors come from users, so expressions run in `descriptors.sandbox.Sandbox`: Jinja's
`ImmutableSandboxedEnvironment`, tightened so that touching an unsafe attribute (`__class__`, `__globals__`,
`dict.update`...) raises at once instead of quietly yielding an undefined value, and so that `*` / `**`
refuse results big enough to exhaust memory or CPU.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from airflow_provider_datalake.descriptors.sandbox import Sandbox as _Sandbox

Expression = Callable[..., Any]

_SANDBOX = _Sandbox(optimized=False)  # see Sandbox: unoptimized, so the checks see every operation


def compile_expression(source: str) -> Expression:
    """Compile once; the result is called with `row=`, `fields=` and `value=`. Undefined names give None."""
    return _SANDBOX.compile_expression(source)


def evaluate(expression: Expression, row: Any, fields: dict[str, Any] | None, value: Any) -> Any:
    """Every failure (sandbox refusal included) becomes a `ValueError`, i.e. a row error."""
    try:
        return expression(row=row, fields=fields if fields is not None else {}, value=value)
    except Exception as exc:
        raise ValueError(f"expression failed: {type(exc).__name__}: {exc}") from None
