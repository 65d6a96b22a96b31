"""`/v1/avatars`: upload (with consent), list, get, delete, preview. Prepared off the loop."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request, Response, UploadFile

from engine.avatar.store import AvatarRecord, AvatarStore
from server.errors import ServerError

router = APIRouter(prefix="/v1/avatars")
CONSENT_HELP = (
    "the uploader attests that they have the right to use this person's likeness for an "
    "AI-generated avatar (or that it is a public-domain work)"
)


def _store(request: Request) -> AvatarStore:
    store: AvatarStore = request.app.state.store
    return store


def _public(record: AvatarRecord) -> dict[str, Any]:
    data = dataclasses.asdict(record)
    data["preview_url"] = f"/v1/avatars/{record.id}/preview.png"
    return data


@router.post("", status_code=201)
async def upload_avatar(
    request: Request,
    image: UploadFile,
    consent: Annotated[str, Form(description=CONSENT_HELP)] = "",
    name: Annotated[str, Form()] = "",
) -> dict[str, Any]:
    store = _store(request)
    data = await image.read(store.max_bytes + 1)
    if len(data) > store.max_bytes:
        raise ServerError(
            f"the upload is over the {store.max_bytes / 1e6:.1f} MB limit", "too_many_bytes"
        )
    record = await asyncio.to_thread(
        store.add, data, name=name or (image.filename or ""), consent=consent
    )
    return _public(record)


@router.get("")
async def list_avatars(request: Request) -> dict[str, Any]:
    records = await asyncio.to_thread(_store(request).list)
    return {"avatars": [_public(r) for r in records], "default": request.app.state.default_avatar}


@router.get("/{avatar_id}")
async def get_avatar(request: Request, avatar_id: str) -> dict[str, Any]:
    return _public(await asyncio.to_thread(_store(request).get, avatar_id))


@router.delete("/{avatar_id}", status_code=204)
async def delete_avatar(request: Request, avatar_id: str) -> Response:
    await asyncio.to_thread(_store(request).delete, avatar_id)
    return Response(status_code=204)


@router.get("/{avatar_id}/preview.png")
async def preview(request: Request, avatar_id: str) -> Response:
    png = await asyncio.to_thread(_store(request).preview_png, avatar_id)
    return Response(png, media_type="image/png", headers={"Cache-Control": "max-age=3600"})
