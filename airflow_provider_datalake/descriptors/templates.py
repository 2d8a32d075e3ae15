"""Validation of the Jinja a descriptor holds (field expressions, templated InfluxDB names), so a bad
expression is a located descriptor error rather than a failed load.

Checks parse and compile in the same sandbox that later runs the Jinja (`descriptors.sandbox`), with the
same filters and tests. Jinja is imported on the first check: DAG files import the descriptor model, and
a descriptor with no expression and no InfluxDB target checks none.
"""

from __future__ import annotations

import functools
import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jinja2 import nodes

    from airflow_provider_datalake.descriptors.sandbox import Sandbox

_TEMPLATE_MARK = re.compile(r"{[{%#]")
_SPECIAL_NAME = re.compile(r"__\w*__")


@functools.cache
def _checking_sandbox() -> Sandbox:
    """The sandbox validation parses and compiles with (never renders with)."""
    # Imported here: it imports Jinja, which most descriptors never need (a cold start of DAG parsing).
    from airflow_provider_datalake.descriptors.sandbox import Sandbox

    return Sandbox(optimized=False)


def is_template(value: str) -> bool:
    """Whether a name holds Jinja markup (`{{ kind }}`) rather than being a plain name."""
    return bool(_TEMPLATE_MARK.search(value))


def template_fields(value: str) -> list[str]:
    """Check a sandboxed Jinja2 template's syntax; return the names it reads (fields of the row)."""
    return list(_template_names(value))


@functools.lru_cache(maxsize=4096)
def _template_names(value: str) -> tuple[str, ...]:
    # Cached: validation, field_refs() and every DAG parse ask again for the same few templates.
    from jinja2 import TemplateSyntaxError, meta

    try:
        # Parse only (never compile here). The name finder checks filters: an unknown one raises
        # TemplateAssertionError, a TemplateSyntaxError.
        return tuple(sorted(meta.find_undeclared_variables(_checking_sandbox().parse(value))))
    except TemplateSyntaxError as exc:
        raise ValueError(f"invalid Jinja2 template: {exc.message}") from exc


def _special_names(ast: nodes.Node) -> list[str]:
    """`x.__class__`, `x['__class__']`, `x | attr('__class__')`: refused by the sandbox on any value.

    Only dunders: `row._id` is legitimate (a dict row falls back to its `_id` key)."""
    from jinja2 import nodes

    found: list[str] = []
    for node in ast.find_all((nodes.Getattr, nodes.Getitem, nodes.Filter)):
        if isinstance(node, nodes.Getattr):
            name: Any = node.attr
        elif isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const):
            name = node.arg.value
        elif isinstance(node, nodes.Filter) and node.name == "attr" and node.args:
            name = node.args[0].value if isinstance(node.args[0], nodes.Const) else None
        else:
            continue
        if isinstance(name, str) and _SPECIAL_NAME.fullmatch(name) and name not in found:
            found.append(name)
    return sorted(found)


@functools.lru_cache(maxsize=4096)
def sandbox_problem(source: str, *, expression: bool) -> str | None:
    """Why the sandbox would refuse this expression (or template) as soon as it is used: a syntax error,
    an unknown filter or test, a special attribute. None when it compiles."""
    from jinja2 import TemplateSyntaxError

    env = _checking_sandbox()
    what = "expression" if expression else "template"
    try:
        if expression:
            env.compile_expression(source)
            ast = env.parse("{{ (" + source + ") }}")
        else:
            ast = env.parse(source)
            env.from_string(ast)
    except TemplateSyntaxError as exc:  # TemplateAssertionError too: "No filter named 'lowr'."
        return f"invalid Jinja2 {what}: {exc.message}"
    special = _special_names(ast)
    if special:
        return f"invalid Jinja2 {what}: the sandbox refuses special attributes ({', '.join(special)})"
    return None


def check_template(value: str) -> None:
    """Raise ValueError (a located validation error) when the sandbox would refuse this template."""
    template_fields(value)
    problem = sandbox_problem(value, expression=False)
    if problem:
        raise ValueError(problem)
