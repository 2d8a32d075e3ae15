"""The README and docs/ are what a new user reads and copies first: they must stay true.

The README is the landing page and stays short; the reference lives in docs/. Wherever they now live, the
descriptor examples validate and parse, the `make` targets and `datalake` commands they show exist, and
every relative link points at a file that exists (and at a heading that exists, for links into Markdown).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
import yaml

from airflow_provider_datalake.descriptors.loader import parse_descriptor
from airflow_provider_datalake.parsing import parse
from tests.conftest import REPO

README = REPO / "README.md"
DOCS = sorted((REPO / "docs").glob("*.md"))
PAGES = [README, *DOCS]
README_LIMIT = 10_000


def rel(page: Path) -> str:
    return str(page.relative_to(REPO))


def blocks(page: Path, lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", page.read_text(encoding="utf-8"), re.S)


def block(page: Path, starting: str) -> str:
    [text] = [b for b in blocks(page, "yaml") if b.lstrip().startswith(starting)]
    return text


# --- the README is a landing page ---------------------------------------------------------------------


def test_the_readme_stays_a_landing_page() -> None:
    size = len(README.read_text(encoding="utf-8"))
    assert size <= README_LIMIT, f"README.md has {size} characters (at most {README_LIMIT}): move it to docs/"


def test_the_readme_links_every_docs_page() -> None:
    text = README.read_text(encoding="utf-8")
    missing = [rel(p) for p in DOCS if f"]({rel(p)})" not in text and f"]({rel(p)}#" not in text]
    assert not missing, f"README.md does not link {missing}"


def test_the_readme_test_command_is_make_test() -> None:
    """CI (`.ci/run`) runs `make test`; the README must tell a newcomer the same command."""
    commands = [line.split("#")[0].strip() for b in blocks(README, "bash") for line in b.splitlines()]
    assert "make test" in commands


# --- descriptor examples ------------------------------------------------------------------------------


def test_the_complete_descriptor_example_validates() -> None:
    text = block(REPO / "docs" / "descriptors.md", "# examples/neocampus_mqtt.yaml")
    desc = parse_descriptor(text, source_name="docs/descriptors.md")
    assert desc.name == "neocampus_mqtt" and [t.store for t in desc.targets] == ["postgres"]


def test_the_fields_and_targets_examples_validate_together_and_parse_a_row() -> None:
    page = REPO / "docs" / "descriptors.md"
    base = [{"name": n} for n in ("building", "room", "kind", "unit")] + [
        {"name": "value", "type": "float"},
        {"name": "input", "type": "int"},
        {"name": "floor", "type": "int"},
        {"name": "time", "type": "timestamp"},
    ]
    data = {
        "name": "readme_targets",
        "parser": {"kind": "csv", "delimiter": ";"},
        "fields": base + yaml.safe_load(block(page, "fields:"))["fields"],
        "targets": yaml.safe_load(block(page, "targets:"))["targets"],
    }
    desc = parse_descriptor(yaml.safe_dump(data, sort_keys=False), source_name="docs/descriptors.md")
    assert [t.store for t in desc.targets] == ["postgres", "influxdb", "mongodb", "neo4j"]

    csv = (
        b"building;room;kind;unit;value;input;floor;time;at\n"
        b"u4;302;co2;ppm;40;1;3;2019-03-16T13:05:00Z;16/03/2019 14:05\n"
    )
    [batch] = list(parse(desc, [csv]))
    row = dict(zip([f.name for f in desc.fields], batch.rows[0], strict=True))
    assert not batch.bad
    assert row["at"].isoformat() == "2019-03-16T13:05:00+00:00"  # Europe/Paris, as the example says
    assert row["ratio"] == 0.4


def whole_descriptors() -> Iterator[tuple[str, str]]:
    for page in PAGES:
        for text in blocks(page, "yaml"):
            data = yaml.safe_load(text)
            if isinstance(data, dict) and {"name", "parser"} <= data.keys():
                yield rel(page), text


@pytest.mark.parametrize(("page", "text"), list(whole_descriptors()))
def test_every_whole_descriptor_shown_validates(page: str, text: str) -> None:
    parse_descriptor(text, source_name=page)


def test_the_tour_descriptor_parses_a_row() -> None:
    desc = parse_descriptor(block(README, "# lab_exports.yaml"), source_name="README.md")
    [batch] = list(parse(desc, [b"sensor;value;time\ns1;4,5;2024-03-01T10:00:00Z\n"]))
    assert not batch.bad and batch.rows[0][1] == 4.5


# --- commands -----------------------------------------------------------------------------------------


def shell_lines() -> Iterator[tuple[str, str]]:
    """Each command shown: the lines of bash blocks, and inline code, without comments."""
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        for b in blocks(page, "bash"):
            for line in b.splitlines():
                yield rel(page), line.split("#")[0].strip()
        for span in re.findall(r"`([^`\n]+)`", text):
            yield rel(page), span.strip()


def test_every_make_target_shown_exists() -> None:
    targets = set(re.findall(r"^([a-z][a-z-]*):", (REPO / "Makefile").read_text(), re.M))
    shown = {
        (page, target)
        for page, line in shell_lines()
        for part in line.split("&&")
        if (m := re.match(r"^(?:[A-Z_]+=\S+ )*make((?: [a-z][a-z-]*)+)", part.strip()))
        for target in m[1].split()
    }
    assert shown, "no make command found"
    missing = sorted((page, t) for page, t in shown if t not in targets)
    assert not missing, f"make targets not in the Makefile: {missing}"


def the_cli() -> click.Group:
    """The `datalake` group, wherever the package defines it (a module or a package of modules)."""
    from airflow_provider_datalake import cli

    groups = {
        id(v): v
        for v in vars(cli).values()
        if isinstance(v, click.Group) and "insert" in v.list_commands(click.Context(v))
    }
    [group] = groups.values()
    return group


def test_every_datalake_command_and_option_shown_exists() -> None:
    root = the_cli()
    problems = []
    checked = 0
    for page, line in shell_lines():
        for part in line.split("&&"):
            words = part.split("|")[0].split()
            if len(words) < 2 or words[0] != "datalake":
                continue
            command: click.Command = root
            names = ["datalake"]
            options = {o for p in root.params for o in (*p.opts, *p.secondary_opts)}
            for word in words[1:]:
                if isinstance(command, click.Group) and re.fullmatch(r"[a-z]+", word):
                    sub = command.get_command(click.Context(command), word)  # loaded when named
                    if sub is None:
                        problems.append(f"{page}: `{part}`: no command {' '.join(names)} {word}")
                        break
                    command, names = sub, [*names, word]
                    options |= {o for p in sub.params for o in (*p.opts, *p.secondary_opts)}
                elif word.startswith("-"):
                    option = word.split("=")[0].strip("[],.:;")
                    if option not in options | {"--help", "-h"}:
                        problems.append(f"{page}: `{part}`: {' '.join(names)} has no {option}")
            checked += 1
    assert checked > 20 and not problems, "\n".join(problems)


# --- links --------------------------------------------------------------------------------------------


def anchors(page: Path) -> set[str]:
    """GitHub's heading ids: lower case, punctuation dropped, spaces to dashes."""
    text = re.sub(r"```.*?```", "", page.read_text(encoding="utf-8"), flags=re.S)
    found = set()
    for heading in re.findall(r"^#{1,6} (.+)$", text, re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.replace("`", "").strip().lower()).replace(" ", "-")
        found.add(slug)
    return found


def links() -> Iterator[tuple[Path, str]]:
    for page in PAGES:
        text = re.sub(r"```.*?```", "", page.read_text(encoding="utf-8"), flags=re.S)
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if not re.match(r"[a-z]+:", target):
                yield page, target


def test_every_relative_link_points_at_an_existing_file() -> None:
    broken = []
    for page, target in links():
        path, _, anchor = target.partition("#")
        dest = (page.parent / path).resolve() if path else page
        if not dest.exists():
            broken.append(f"{rel(page)}: {target} (no such file)")
        elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
            broken.append(f"{rel(page)}: {target} (no such heading)")
    assert not broken, "\n".join(broken)
