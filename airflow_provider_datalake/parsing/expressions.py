"""Field expressions: sandboxed Jinja2, compiled once per field, evaluated once per row.

Descriptors come from users, so expressions run in Jinja's `ImmutableSandboxedEnvironment`, tightened in two
ways: touching an unsafe attribute (`__class__`, `__globals__`, `dict.update`...) raises at once instead of
quietly yielding an undefined value, and `*` / `**` refuse results big enough to exhaust memory or CPU.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from jinja2.exceptions import SecurityError
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment

MAX_SEQUENCE = 1_000_000  # longest string/list an expression may build with `*`
MAX_EXPONENT = 1_000

Expression = Callable[..., Any]


class _Sandbox(ImmutableSandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**"})

    def unsafe_undefined(self, obj: Any, attribute: str) -> Any:
        raise SecurityError(f"access to attribute {attribute!r} of {type(obj).__name__!r} object is unsafe")

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        if operator == "**" and isinstance(right, int | float) and abs(right) > MAX_EXPONENT:
            raise SecurityError(f"exponent {right!r} is too large (max {MAX_EXPONENT})")
        if operator == "*":
            for seq, times in ((left, right), (right, left)):
                sized = isinstance(seq, str | bytes | list | tuple) and isinstance(times, int)
                if sized and len(seq) * times > MAX_SEQUENCE:
                    raise SecurityError(f"sequence of {len(seq) * times} items is too long")
        return super().call_binop(context, operator, left, right)


# Not optimized: Jinja's optimizer folds constants at compile time, outside the checks above (a
# `'x' | center(300000000)` took 3 s and 1.2 GB just to compile).
_SANDBOX = _Sandbox(optimized=False)


def compile_expression(source: str) -> Expression:
    """Compile once; the result is called with `row=`, `fields=` and `value=`. Undefined names give None."""
    return _SANDBOX.compile_expression(source)


def evaluate(expression: Expression, row: Any, fields: dict[str, Any] | None, value: Any) -> Any:
    """Every failure (sandbox refusal included) becomes a `ValueError`, i.e. a row error."""
    try:
        return expression(row=row, fields=fields if fields is not None else {}, value=value)
    except Exception as exc:
        raise ValueError(f"expression failed: {type(exc).__name__}: {exc}") from None
