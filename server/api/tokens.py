"""`POST /v1/tokens`: a server holding the API key mints a short-lived client token with grants,
for a web page behind the deployment's own login (README "Tokens")."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from server.errors import ServerError
from server.tokens import Grant, mint_client_token, require_api_key, tokens

router = APIRouter(prefix="/v1/tokens", tags=["tokens"])
CLIENT_GRANTS = (Grant.SESSIONS_CREATE, Grant.AVATARS_READ, Grant.AVATARS_WRITE)
DEFAULT_TTL_S = 300.0


class TokenRequest(BaseModel):
    grants: list[Grant] = Field(
        default_factory=lambda: [Grant.SESSIONS_CREATE, Grant.AVATARS_READ],
        max_length=len(CLIENT_GRANTS),
        description="what the token allows: sessions:create, avatars:read, avatars:write",
    )
    ttl_s: Annotated[float, Field(gt=0, description="lifetime; at most client_token_max_ttl_s")] = (
        DEFAULT_TTL_S
    )


class ClientToken(BaseModel):
    token: str = Field(description="Authorization: Bearer TOKEN on the granted routes")
    grants: list[Grant]
    expires_in_s: float


@router.post("", status_code=201, dependencies=[Depends(require_api_key)])
async def mint_token(request: Request, body: TokenRequest) -> ClientToken:
    """Mint a client token (needs the API key; a server without one answers 400 no_api_key)."""
    grants = frozenset(body.grants)
    if not grants or not grants <= set(CLIENT_GRANTS):
        allowed = ", ".join(g.value for g in CLIENT_GRANTS)
        raise ServerError(f"grants: choose one or more of {allowed}", "bad_grants")
    most_s = request.app.state.settings.client_token_max_ttl_s
    if body.ttl_s > most_s:
        raise ServerError(f"ttl_s: at most {most_s:g} s, got {body.ttl_s:g}", "bad_ttl")
    token = mint_client_token(tokens(request), grants, body.ttl_s)
    return ClientToken(token=token, grants=sorted(grants), expires_in_s=body.ttl_s)
