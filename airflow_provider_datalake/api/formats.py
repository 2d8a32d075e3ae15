"""``/api/v1/formats``: format descriptors — list, one with its versions and evidence, validate (located
errors), push; inferred drafts, approve, reject; the inference policy."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, HTTPException, Query, status
from pydantic import BaseModel, Field

from airflow_provider_datalake.api import lake
from airflow_provider_datalake.api.security import Reader, Writer, user_name

router = APIRouter(prefix="/formats", tags=["formats"])

MAX_DESCRIPTOR = 1_000_000  # bytes of YAML a request may carry (the loader has its own, lower, bound)
YamlText = Annotated[
    str,
    Body(
        media_type="application/yaml",
        max_length=MAX_DESCRIPTOR,
        description="the descriptor's YAML text",
        examples=["name: my_format\nparser: {kind: csv}\n..."],
    ),
]


class Problem(BaseModel):
    line: int | None
    field_path: str
    message: str


class Validation(BaseModel):
    valid: bool
    name: str | None = None
    problems: list[Problem] = Field(default_factory=list)


class Policy(BaseModel):
    mode: Literal["review", "auto"]
    container: str | None = None
    application: str | None = None


def _summary(found: Any) -> dict[str, Any]:
    from airflow_provider_datalake.descriptors.loader import DescriptorError

    row = found.metadata()
    try:
        desc = found.descriptor()
        row.update(
            valid=True,
            parser=desc.parser.kind,
            targets=[
                {"target": t.name, "store": t.store, "location": lake.gold_location(t)} for t in desc.targets
            ],
            description=desc.description,
        )
    except DescriptorError as exc:
        row.update(valid=False, problems=[_problem(p) for p in exc.problems])
    row["dag_id"] = lake.dag_id(found.name)
    return row


def _problem(p: Any) -> dict[str, Any]:
    return {"line": p.line, "field_path": p.field_path, "message": p.message}


@router.get("", summary="Active formats, each at its latest version")
def list_formats(_: Reader) -> list[dict[str, Any]]:
    return [_summary(found) for found in lake.formats().latest()]


@router.get(
    "/drafts",
    summary="Inferred descriptors waiting for review: the objects grouped under each, shape, confidence",
)
def list_drafts(_: Reader) -> list[dict[str, Any]]:
    from airflow_provider_datalake.inference.drafts import Drafts

    return [lake.plain(row) for row in Drafts(lake.formats()).list()]


@router.get("/policy", summary="The inference policy per container and application (default: review)")
def get_policy(_: Reader) -> list[dict[str, Any]]:
    from airflow_provider_datalake.inference.drafts import PolicyStore

    return [lake.plain(row) for row in PolicyStore(lake.catalog()).list()]


@router.put("/policy", summary="Set what happens to a draft inferred for a container or an application")
def set_policy(policy: Policy, _: Writer) -> dict[str, Any]:
    from airflow_provider_datalake.inference.drafts import PolicyStore

    if (policy.container is None) == (policy.application is None):
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_ENTITY, "give a container or an application (one)")
    PolicyStore(lake.catalog()).set(policy.mode, container=policy.container, application=policy.application)
    return policy.model_dump()


@router.post("/validate", response_model=Validation, summary="Check a descriptor; its problems, located")
def validate(text: YamlText, _: Reader) -> Validation:
    from airflow_provider_datalake.descriptors.loader import DescriptorError, parse_descriptor

    try:
        desc = parse_descriptor(text, source_name="<request>")
    except DescriptorError as exc:
        return Validation(valid=False, name=exc.name, problems=[Problem(**_problem(p)) for p in exc.problems])
    return Validation(valid=True, name=desc.name)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Validate a descriptor and store it as the format's new active version",
    responses={422: {"description": "the descriptor's problems, located (nothing stored)"}},
)
def push(text: YamlText, user: Writer, if_changed: bool = False) -> dict[str, Any]:
    from airflow_provider_datalake.descriptors.loader import DescriptorError, parse_descriptor

    try:
        desc = parse_descriptor(text, source_name="<request>")
    except DescriptorError as exc:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_ENTITY,
            {"valid": False, "name": exc.name, "problems": [_problem(p) for p in exc.problems]},
        ) from exc
    store = lake.formats()
    if if_changed:
        latest = store.get_version(desc.name)
        if latest is not None and latest.yaml == text:
            return {"name": desc.name, "version": latest.version, "changed": False}
    version = store.push(desc, source_text=text, author=user_name(user))
    return {"name": desc.name, "version": version, "changed": True, "dag_id": lake.dag_id(desc.name)}


@router.get("/{name}", summary="One format: its YAML, metadata, versions and inference evidence")
def get_format(
    name: str, _: Reader, version: Annotated[int | None, Query(ge=1, description="default: latest")] = None
) -> dict[str, Any]:
    from airflow_provider_datalake.descriptors.loader import DescriptorError
    from airflow_provider_datalake.inference.drafts import Drafts

    family = Drafts(lake.formats()).family(name)
    if not family:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such format")
    found = lake.formats().get_version(name, version)
    if found is None:  # no active version: the newest of any status (a draft, a rejected one)
        from airflow_provider_datalake.descriptors.store import FormatVersion

        docs = [d for d in family if version is None or d["version"] == version]
        if not docs:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no version {version} of this format")
        found = FormatVersion.from_doc(docs[-1])
    evidence = None
    try:
        desc = found.descriptor()
        evidence = desc.evidence.model_dump(mode="json") if desc.evidence is not None else None
    except DescriptorError:
        pass
    keep = (
        "version",
        "status",
        "created_at",
        "author",
        "review_reason",
        "inferred_from",
        "approved_by",
        "rejected_by",
        "reject_reason",
        "superseded_by",
    )
    return {
        **_summary(found),
        "yaml": found.yaml,
        "evidence": evidence,
        "versions": [lake.plain({k: d.get(k) for k in keep}) for d in family],
    }


@router.post("/{name}/approve", summary="Activate a draft: its DAG appears and the waiting objects go")
def approve(name: str, user: Writer, version: Annotated[int | None, Query(ge=1)] = None) -> dict[str, Any]:
    from airflow_provider_datalake.descriptors.loader import DescriptorError
    from airflow_provider_datalake.inference.drafts import Drafts

    try:
        done, released = Drafts(lake.formats()).approve(name, version, by=user_name(user))
    except LookupError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc
    except DescriptorError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_ENTITY, str(exc)) from exc
    return {"name": name, "version": done, "released": released, "dag_id": lake.dag_id(name)}


@router.post("/{name}/reject", summary="Reject a draft; its objects stay in the raw zone, unformatted")
def reject(
    name: str,
    user: Writer,
    version: Annotated[int | None, Query(ge=1)] = None,
    reason: Annotated[str, Query(max_length=2000)] = "",
) -> dict[str, Any]:
    from airflow_provider_datalake.inference.drafts import Drafts

    try:
        done = Drafts(lake.formats()).reject(name, version, by=user_name(user), reason=reason)
    except LookupError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc
    return {"name": name, "version": done, "rejected": True}
