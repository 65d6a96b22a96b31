"""The OpenAPI document as the server really answers, and the docs pages without a CDN.

FastAPI documents a 422 for every body or parameter and nothing else; this server answers 400
{"error", "detail"} for those (server/errors.py) and 401/403/404/413/503 where its checks refuse.
`install_openapi` rewrites each operation's responses from the route's shape (which credential,
whether it takes a body) so that schemathesis' conformance checks hold (tests/test_fuzz.py).

/openapi.json, /docs (Swagger UI) and /redoc stay open with an API key set, like /healthz and
/metrics: they describe the API's shape and counters, no user data and no secrets. Their assets
come from the fastapi-offline package, so /docs works without internet access.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from server.errors import error_body

ERROR_REF = {"$ref": "#/components/schemas/ErrorBody"}
ERROR_SCHEMA = {
    "title": "ErrorBody",
    "type": "object",
    "required": ["error", "detail"],
    "properties": {
        "error": {"type": "string", "description": "reason code (README: the caps table)"},
        "detail": {"type": "string", "description": "what was wrong, for a person"},
    },
}
STATUS_TEXT = {
    400: "refused as given: a field out of range, bad SDP, an unknown control (the detail "
    "names the field)",
    401: "no credential, or an unknown or expired one",
    403: "a credential for something else (another session, a missing grant), or a built-in "
    "avatar",
    404: "no such session or avatar",
    413: "the request body passed its cap (counted as it arrives, chunked or not)",
    503: "at the session limit, warming up, or draining for a restart (Retry-After)",
}
HTTP_REASONS = {404: "not_found", 405: "method_not_allowed"}


def _statuses(path: str, method: str, operation: dict[str, Any]) -> set[int]:
    takes_input = "requestBody" in operation or bool(operation.get("parameters"))
    statuses = {400} if takes_input else set()
    if path.startswith("/v1/"):
        statuses |= {401, 403}
    if "{" in path:
        statuses.add(404)
    if "requestBody" in operation or method in ("post", "put", "patch"):
        statuses.add(413)
    if path == "/v1/sessions" and method == "post":
        statuses |= {404, 503}  # an unknown avatar; the session limit, warm-up, draining
    if path == "/v1/tokens":
        statuses.add(503)  # too many live tokens
    return statuses


def document_responses(schema: dict[str, Any]) -> dict[str, Any]:
    schema.setdefault("components", {}).setdefault("schemas", {})["ErrorBody"] = ERROR_SCHEMA
    for name in ("HTTPValidationError", "ValidationError"):
        schema["components"]["schemas"].pop(name, None)
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            responses.pop("422", None)
            for status in sorted(_statuses(path, method, operation)):
                responses[str(status)] = {
                    "description": STATUS_TEXT[status],
                    "content": {"application/json": {"schema": ERROR_REF}},
                }
    _media(schema, "/v1/avatars/{avatar_id}/preview.png", "image/png", {"type": "string"})
    _media(schema, "/metrics", "text/plain", {"type": "string"})
    ready = schema["paths"]["/readyz"]["get"]["responses"]
    ready["503"] = {
        "description": "warming up, warm-up failed, or draining",
        "content": {"application/json": {"schema": {"type": "object"}}},
    }
    offer = schema["paths"]["/v1/sessions"]["post"]["responses"]["503"]
    offer["headers"] = {"Retry-After": {"schema": {"type": "integer"}}}
    return schema


def _media(schema: dict[str, Any], path: str, media_type: str, body: dict[str, Any]) -> None:
    ok = schema["paths"][path]["get"]["responses"]["200"]
    ok["content"] = {media_type: {"schema": body}}


def install_openapi(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document_responses(
                get_openapi(
                    title=app.title,
                    version=app.version,
                    description=app.description,
                    routes=app.routes,
                )
            )
        return app.openapi_schema

    async def http_error(request: Request, exc: Exception) -> JSONResponse:
        """Starlette's own 404/405 in the same {"error", "detail"} shape as every refusal."""
        assert isinstance(exc, StarletteHTTPException)
        reason = HTTP_REASONS.get(exc.status_code, f"http_{exc.status_code}")
        return JSONResponse(
            error_body(reason, str(exc.detail)), exc.status_code, headers=exc.headers
        )

    app.openapi = openapi  # type: ignore[method-assign]
    app.add_exception_handler(StarletteHTTPException, http_error)


def new_app(**kwargs: Any) -> FastAPI:
    """FastAPI with /docs and /redoc served from the fastapi-offline package (no CDN)."""
    try:
        from fastapi_offline import FastAPIOffline
    except ImportError:  # an install without the package: no docs pages rather than blank ones
        return FastAPI(docs_url=None, redoc_url=None, **kwargs)
    app: FastAPI = FastAPIOffline(**kwargs)
    return app
