"""Who may do what on /v1: the API key, client tokens, session tokens and websocket tickets.

- The API key (`GIOCONDA_API_KEY`), when set, is the credential of servers (agents, backends):
  it may do everything, including minting client tokens (`POST /v1/tokens`).
- A client token carries grants (`sessions:create`, `avatars:read`, `avatars:write`) and expires
  after `ttl_s`: what a deployment's own login endpoint hands a web page (LiveKit's access tokens
  are the model). Without an API key, creating sessions and the avatar routes are open.
- A session token comes back from `POST /v1/sessions`; it is scoped to that one session (read its
  state, change its controls, speak, end it), expires after `session_token_ttl_s` unless renewed
  with itself (`POST /v1/sessions/{id}/token`), and dies with the session. Every
  `/v1/sessions/{id}` route needs it (or the API key), with or without an API key configured.
- A websocket ticket (`POST /v1/sessions/{id}/ticket`) opens the speech websocket once, within
  `TICKET_TTL_S`: browsers cannot set headers on a websocket, and a one-time ticket in the URL is
  worthless once used, where a token in the URL would stay valid in every log that saw it.

Tokens are random strings kept in memory by their SHA-256 (sessions do not outlive the process
either). `require_session` is the FastAPI dependency every session route takes.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.requests import HTTPConnection

from server.errors import ServerError

TICKET_TTL_S = 30.0
MAX_LIVE_TOKENS = 20_000  # minting beyond this purges expired tokens, then refuses
MAX_TOKENS_PER_SESSION = 8  # renewals and tickets past this drop the session's oldest token


class Grant(StrEnum):
    SESSIONS_CREATE = "sessions:create"
    AVATARS_READ = "avatars:read"
    AVATARS_WRITE = "avatars:write"
    SESSION = "session"  # everything on one session (session_id)
    SPEECH_TICKET = "speech_ticket"  # one websocket connection to one session
    DETECT = "detect"  # POST /v1/detect: check a file for the watermark


@dataclass(frozen=True)
class Capability:
    grants: frozenset[Grant]
    expires_s: float  # time.monotonic()
    session_id: str | None = None
    one_time: bool = False


class TokenStore:
    """Live tokens by hash; expired ones are dropped when seen or when the store fills up."""

    def __init__(self, max_tokens: int = MAX_LIVE_TOKENS) -> None:
        self._by_hash: dict[bytes, Capability] = {}
        self._max_tokens = max_tokens

    def __len__(self) -> int:
        return len(self._by_hash)

    def mint(self, capability: Capability, prefix: str) -> str:
        if capability.session_id is not None:
            self._make_room(capability.session_id)
        if len(self._by_hash) >= self._max_tokens:
            self.purge()
        if len(self._by_hash) >= self._max_tokens:
            raise ServerError("too many live tokens; try again later", "too_many_tokens")
        token = prefix + secrets.token_urlsafe(24)
        self._by_hash[_digest(token)] = capability
        return token

    def resolve(self, token: str) -> Capability | None:
        """The token's capability, or None when unknown or expired; a one-time token is used up."""
        key = _digest(token)
        capability = self._by_hash.get(key)
        if capability is None:
            return None
        if capability.expires_s <= time.monotonic() or capability.one_time:
            del self._by_hash[key]
        return capability if capability.expires_s > time.monotonic() else None

    def _make_room(self, session_id: str) -> None:
        """One session's holder cannot fill the store by renewing: its oldest token goes."""
        keys = [k for k, c in self._by_hash.items() if c.session_id == session_id]
        for key in keys[: max(0, len(keys) - MAX_TOKENS_PER_SESSION + 1)]:
            del self._by_hash[key]  # dicts keep insertion order: the oldest first

    def revoke_session(self, session_id: str) -> None:
        for key, capability in list(self._by_hash.items()):
            if capability.session_id == session_id:
                del self._by_hash[key]

    def purge(self) -> None:
        now = time.monotonic()
        for key, capability in list(self._by_hash.items()):
            if capability.expires_s <= now:
                del self._by_hash[key]


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def mint_session_token(store: TokenStore, session_id: str, ttl_s: float) -> str:
    capability = Capability(frozenset({Grant.SESSION}), time.monotonic() + ttl_s, session_id)
    return store.mint(capability, "gs_")


def mint_ticket(store: TokenStore, session_id: str) -> str:
    expires_s = time.monotonic() + TICKET_TTL_S
    capability = Capability(frozenset({Grant.SPEECH_TICKET}), expires_s, session_id, True)
    return store.mint(capability, "gt_")


def mint_client_token(store: TokenStore, grants: frozenset[Grant], ttl_s: float) -> str:
    return store.mint(Capability(grants, time.monotonic() + ttl_s), "gc_")


# ------------------------------------------------------------------ checks


def bearer(connection: HTTPConnection) -> str:
    """The `Authorization: Bearer ...` credential, or ''."""
    header = connection.headers.get("authorization", "")
    return header[7:].strip() if header[:7].lower() == "bearer " else ""


def is_api_key(connection: HTTPConnection, presented: str) -> bool:
    api_key: str | None = connection.app.state.settings.api_key
    return bool(api_key) and hmac.compare_digest(presented.encode(), str(api_key).encode())


def tokens(connection: HTTPConnection) -> TokenStore:
    store: TokenStore = connection.app.state.tokens
    return store


def check_session_access(
    connection: HTTPConnection, session_id: str, presented: str, *, allow_ticket: bool = False
) -> None:
    """Raises ServerError unauthorized (401: no or unknown credential) or forbidden (403: a
    credential for something else). A ticket counts only where `allow_ticket` (the websocket)."""
    if not presented:
        raise ServerError(
            "this session needs its session token: Authorization: Bearer TOKEN (the token "
            "came back from POST /v1/sessions)",
            "unauthorized",
        )
    if not allow_ticket and is_api_key(connection, presented):
        return
    capability = tokens(connection).resolve(presented)
    if capability is None:
        raise ServerError("the token is unknown, used or expired", "unauthorized")
    wanted = Grant.SPEECH_TICKET if allow_ticket else Grant.SESSION
    if capability.session_id != session_id or wanted not in capability.grants:
        raise ServerError("the token does not grant access to this session", "forbidden")


def check_grant(connection: HTTPConnection, grant: Grant) -> None:
    """Open when the server has no API key; otherwise the key or a client token with `grant`."""
    if not connection.app.state.settings.api_key:
        return
    presented = bearer(connection)
    if not presented:
        raise ServerError(
            "this server needs a credential: Authorization: Bearer KEY_OR_TOKEN", "unauthorized"
        )
    if is_api_key(connection, presented):
        return
    capability = tokens(connection).resolve(presented)
    if capability is None:
        raise ServerError("the token is unknown or expired", "unauthorized")
    if grant not in capability.grants:
        raise ServerError(f"the token does not grant {grant.value}", "forbidden")


# ------------------------------------------------------------------ FastAPI dependencies

_bearer_scheme = HTTPBearer(
    auto_error=False,
    description="The API key (servers), a client token from POST /v1/tokens, or a session "
    "token from POST /v1/sessions",
)
BearerCredential = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer_scheme)]


async def require_session(request: Request, session_id: str, _: BearerCredential) -> None:
    """Dependency of every /v1/sessions/{session_id} route: the session's token or the API key."""
    check_session_access(request, session_id, bearer(request))


async def require_api_key(request: Request, _: BearerCredential) -> None:
    """Minting client tokens: the API key (without one configured there is nothing to grant,
    and anyone could fill the token store)."""
    if not request.app.state.settings.api_key:
        raise ServerError(
            "this server has no API key: avatars and new sessions are open to all, so there "
            "is nothing to grant (set GIOCONDA_API_KEY to use client tokens)",
            "no_api_key",
        )
    if not is_api_key(request, bearer(request)):
        raise ServerError("minting tokens needs the API key", "unauthorized")


async def require_api_key_if_set(request: Request, _: BearerCredential) -> None:
    """Routes for the operator only (the consent audit): the API key, never a client or session
    token. A server without a key is refused by the route itself."""
    if request.app.state.settings.api_key and not is_api_key(request, bearer(request)):
        raise ServerError("this route needs the API key", "unauthorized")


def grant_required(grant: Grant) -> Any:
    """A route's check: `dependencies=[grant_required(Grant.SESSIONS_CREATE)]`."""

    async def check(request: Request, _: BearerCredential) -> None:
        check_grant(request, grant)

    return Depends(check)


def grant_dependency(read: Grant, write: Grant) -> Any:
    """A router-wide check: GET/HEAD need `read`, other methods `write`."""

    async def check(request: Request, _: BearerCredential) -> None:
        check_grant(request, read if request.method in ("GET", "HEAD") else write)

    return Depends(check)


SessionAccess = Depends(require_session)  # dependencies=[SessionAccess] on a session route
