"""Who may do what: every endpoint of the plugin asks Airflow's own auth manager.

The lake's raw objects and formats are Airflow assets to the auth manager: reading them needs the right to
read assets (a viewer's), and changing them (upload, push, approve, reject, reprocess, reconcile) the
right to change assets (an operator's or an admin's, with the Simple auth manager or FAB alike). The user
comes from Airflow's JWT, in the ``Authorization`` header (scripts) or the UI's session cookie (pages).

A write authenticated by the cookie alone must also carry the ``X-Datalake-Request`` header: a page of
another site can make a browser send the cookie with a form post, but not with a custom header.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import Depends, HTTPException, Request, status

WRITE_HEADER = "X-Datalake-Request"


async def current_user(request: Request) -> Any:
    """The request's user, resolved by Airflow (cookie or bearer token)."""
    from airflow.api_fastapi.core_api.security import bearer_scheme, get_user

    credentials = await bearer_scheme(request)
    return await get_user(request, None, credentials)


def _allowed(user: Any, method: Literal["GET", "POST"]) -> bool:
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.models.resource_details import AssetDetails

    return bool(get_auth_manager().is_authorized_asset(method=method, details=AssetDetails(), user=user))


def reader(request: Request, user: Annotated[Any, Depends(current_user)]) -> Any:
    """Dependency: a user allowed to read the lake (Airflow's right to read assets)."""
    if not _allowed(user, "GET"):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "reading the data lake needs the right to read assets")
    return user


def writer(request: Request, user: Annotated[Any, Depends(current_user)]) -> Any:
    """Dependency: a user allowed to change the lake (Airflow's right to change assets), on a request that
    a page of another site could not have made."""
    if not _allowed(user, "POST"):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            "changing the data lake needs the right to change assets (an operator's or an admin's)",
        )
    if not request.headers.get("authorization") and not request.headers.get(WRITE_HEADER):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            f"a write authenticated by the session cookie needs the {WRITE_HEADER} header",
        )
    return user


def user_name(user: Any) -> str | None:
    """The name recorded as the author of a change."""
    try:
        return str(user.get_name())
    except Exception:  # an auth manager's user without a name
        return None


Reader = Annotated[Any, Depends(reader)]
Writer = Annotated[Any, Depends(writer)]
