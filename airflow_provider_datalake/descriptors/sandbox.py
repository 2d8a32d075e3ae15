"""The Jinja sandbox descriptor expressions and templates run in.

Descriptors come from users, so their Jinja runs in `ImmutableSandboxedEnvironment`, tightened in two ways:
touching an unsafe attribute (`__class__`, `__globals__`, `dict.update`...) raises at once instead of
quietly yielding an undefined value, and `*` / `**` refuse results big enough to exhaust memory or CPU.
Parsing evaluates field expressions in it, the gold loaders render templated names in it, and validation
(`descriptors.templates`) parses and compiles with it, so what validates is what runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment

if TYPE_CHECKING:
    from jinja2.runtime import Context

MAX_SEQUENCE = 1_000_000  # longest string/list an expression may build with `*`
MAX_EXPONENT = 1_000


class Sandbox(ImmutableSandboxedEnvironment):
    """Jinja's immutable sandbox, raising on unsafe attributes and refusing oversized `*` / `**`.

    Build it with ``optimized=False``: Jinja's optimizer folds constants at compile time, outside the
    checks below, so `'x' | center(10 ** 9)` would hang or bloat the compiler.
    """

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
