"""Sessions belong to whoever created them, and hostile input gets a clear 4xx while a live call
keeps streaming (issue 14): session tokens on every session route and the speech websocket,
client tokens minted with the API key, streamed body limits, option ranges, websocket JSON depth,
one speech socket per session."""

from __future__ import annotations

import asyncio
import json
import select
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import websockets

from server.clients.speak_client import speech_url
from tests.server_harness import (
    ServerThread,
    running_server,
    server_settings,
    start_call,
)

UPLOAD_CAP_BYTES = 300_000
SENT_BYTES = 40_000_000  # what an attacker streams at a cap of a few hundred kB


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    settings = server_settings(tmp_path_factory.mktemp("store"), max_upload_bytes=UPLOAD_CAP_BYTES)
    with running_server(settings) as running:
        yield running


async def _ws_outcome(
    url: str, headers: dict[str, str] | None = None, send: list[str | bytes] | None = None
) -> tuple[str, Any]:
    """Connect, send, then ("closed", (code, reason)) or ("reply", first JSON message)."""
    async with websockets.connect(url, additional_headers=headers) as ws:
        try:
            for message in send or []:
                await ws.send(message)
            return "reply", json.loads(await asyncio.wait_for(ws.recv(), 10))
        except websockets.ConnectionClosed as closed:
            assert closed.rcvd is not None
            return "closed", (closed.rcvd.code, closed.rcvd.reason)


def _v1_operations(base_url: str) -> list[tuple[str, str]]:
    """(method, path template) of every /v1 HTTP operation the server documents."""
    document = httpx.get(base_url + "/openapi.json").json()
    return [
        (method.upper(), path)
        for path, operations in document["paths"].items()
        if path.startswith("/v1/")
        for method in operations
    ]


def _session_routes(base_url: str, session_id: str) -> list[tuple[str, str, Any]]:
    routes = [
        (method, path.replace("{session_id}", session_id), {} if method != "GET" else None)
        for method, path in _v1_operations(base_url)
        if path.startswith("/v1/sessions/{session_id}")
    ]
    assert len(routes) >= 5, routes
    return sorted(routes, key=lambda route: route[0] == "DELETE")  # DELETE last


def test_a_client_without_the_sessions_token_is_refused_on_every_route(
    server: ServerThread,
) -> None:
    """Regression: with the session id alone, any client could read, change, end and speak
    into someone else's call."""

    async def scenario() -> dict[str, Any]:
        call = await start_call(server.url)
        other = await start_call(server.url)
        seen: dict[str, Any] = {}
        sid = call.session_id
        routes = _session_routes(server.url, sid)  # every one, including routes added later
        strangers = {
            "none": {},
            "made_up": {"Authorization": "Bearer gs_made-up"},
            "other_session": other.headers,
        }
        try:
            async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
                for who, headers in strangers.items():
                    for method, path, body in routes:
                        response = await client.request(method, path, json=body, headers=headers)
                        seen[f"{who} {method} {path}"] = response
                url = speech_url(server.url, sid)
                seen["ws none"] = await _ws_outcome(url)
                seen["ws other"] = await _ws_outcome(url, other.headers)
                seen["ws key in url"] = await _ws_outcome(url + "?api_key=guess")
                other_ticket = await client.post(
                    f"/v1/sessions/{other.session_id}/ticket", headers=other.headers
                )
                seen["ws other ticket"] = await _ws_outcome(
                    f"{url}?ticket={other_ticket.json()['ticket']}"
                )
                seen["frames"] = await call.frames_arrive()
                # The owner: state, a renewed token, a one-time ticket.
                seen["owner get"] = await client.get(f"/v1/sessions/{sid}", headers=call.headers)
                renewed = await client.post(f"/v1/sessions/{sid}/token", headers=call.headers)
                fresh = {"Authorization": f"Bearer {renewed.json()['session_token']}"}
                seen["renewed get"] = await client.get(f"/v1/sessions/{sid}", headers=fresh)
                first_renewal = fresh
                for _ in range(12):  # a token holder cannot fill the store by renewing
                    renewed = await client.post(f"/v1/sessions/{sid}/token", headers=fresh)
                    fresh = {"Authorization": f"Bearer {renewed.json()['session_token']}"}
                path = f"/v1/sessions/{sid}"
                seen["oldest dropped"] = await client.get(path, headers=first_renewal)
                ticket = (await client.post(f"/v1/sessions/{sid}/ticket", headers=fresh)).json()
                bad = [json.dumps({"type": "dance"})]
                once = f"{url}?ticket={ticket['ticket']}"
                seen["ticket once"] = await _ws_outcome(once, send=bad)
                seen["ticket twice"] = await _ws_outcome(once)
                seen["owner delete"] = await client.delete(f"/v1/sessions/{sid}", headers=fresh)
                seen["after delete"] = await client.get(f"/v1/sessions/{sid}", headers=fresh)
        finally:
            await other.close()
            await call.close()
        return seen

    seen = asyncio.run(scenario())
    for key, response in seen.items():
        if key.startswith(("none ", "made_up ", "other_session ")):
            other = key.startswith("other_session")
            expected = (403, "forbidden") if other else (401, "unauthorized")
            assert (response.status_code, response.json()["error"]) == expected, key
            assert response.json()["detail"], key
    assert seen["ws none"][0] == "closed" and seen["ws none"][1][0] == 4401
    assert seen["ws other"][1][0] == 4403 and "forbidden" in seen["ws other"][1][1]
    assert seen["ws key in url"][1][0] == 4401
    assert seen["ws other ticket"][1][0] == 4403
    assert seen["frames"]  # the call kept streaming through all of it
    assert seen["owner get"].status_code == 200 and seen["renewed get"].status_code == 200
    assert seen["oldest dropped"].status_code == 401
    assert seen["ticket once"] == ("reply", seen["ticket once"][1])
    assert seen["ticket once"][1]["error"] == "bad_message"  # served: the reply to a message
    assert seen["ticket twice"][1][0] == 4401  # a ticket opens one connection
    assert seen["owner delete"].status_code == 204
    assert seen["after delete"].status_code == 401  # the session's tokens end with it


def test_the_api_key_mints_client_tokens_and_the_page_never_needs_it(tmp_path: Path) -> None:
    settings = server_settings(tmp_path, api_key="sesame")
    key = {"Authorization": "Bearer sesame"}
    with running_server(settings) as server, httpx.Client(base_url=server.url) as client:
        for method, path in _v1_operations(server.url):  # every route, added later or not
            concrete = path.replace("{session_id}", "s_x").replace("{avatar_id}", "astronaut")
            refused = client.request(method, concrete)
            assert refused.status_code == 401, (method, path, refused.text)
            assert refused.json()["error"] == "unauthorized"
        minted = client.post("/v1/tokens", json={"ttl_s": 60}, headers=key)
        assert minted.status_code == 201, minted.text
        token = minted.json()["token"]
        assert sorted(minted.json()["grants"]) == ["avatars:read", "sessions:create"]
        page = {"Authorization": f"Bearer {token}"}
        assert client.get("/v1/avatars", headers=page).status_code == 200
        upload = client.post(
            "/v1/avatars", headers=page, files={"image": ("x.png", b"x")}, data={"consent": "y"}
        )
        assert (upload.status_code, upload.json()["error"]) == (403, "forbidden")
        too_long = client.post("/v1/tokens", json={"ttl_s": 1e9}, headers=key)
        assert too_long.status_code == 400 and "ttl_s" in too_long.json()["detail"]
        bad_grant = client.post("/v1/tokens", json={"grants": ["root"]}, headers=key)
        assert bad_grant.status_code == 400 and "grants" in bad_grant.json()["detail"]
        short = client.post("/v1/tokens", json={"ttl_s": 0.3}, headers=key).json()["token"]
        time.sleep(0.5)
        expired = client.get("/v1/avatars", headers={"Authorization": f"Bearer {short}"})
        assert expired.status_code == 401

        async def call_with_client_token() -> tuple[int, int, int]:
            call = await start_call(server.url, api_key=token)  # the page's token, not the key
            path = f"/v1/sessions/{call.session_id}"
            async with httpx.AsyncClient(base_url=server.url) as http:
                with_session_token = (await http.get(path, headers=call.headers)).status_code
                with_client_token = (await http.get(path, headers=page)).status_code
                with_key = (await http.get(path, headers=key)).status_code
            await call.close()
            return with_session_token, with_client_token, with_key

        assert asyncio.run(call_with_client_token()) == (200, 403, 200)


async def _send_chunked(
    base_url: str, path: str, content_type: str, prefix: bytes, method: str = "POST"
) -> tuple[int, Any, int]:
    """Stream up to SENT_BYTES as a chunked body (no Content-Length) until the server answers,
    as a browser does: -> (status, JSON body, bytes sent before the answer)."""
    send = _send_chunked_blocking
    return await asyncio.to_thread(send, base_url, path, content_type, prefix, method)


def _send_chunked_blocking(
    base_url: str, path: str, content_type: str, prefix: bytes, method: str
) -> tuple[int, Any, int]:
    # A plain socket, not asyncio streams: the server closes with the rest of the body unread
    # (a TCP reset), and asyncio drops what was already received when a write fails; the
    # kernel still hands the queued answer to recv().
    parts = urlsplit(base_url)
    assert parts.hostname is not None and parts.port is not None
    with socket.create_connection((parts.hostname, parts.port), timeout=30) as sock:
        head = (
            f"{method} {path} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
            f"Content-Type: {content_type}\r\nTransfer-Encoding: chunked\r\n\r\n"
        )
        sock.sendall(head.encode())
        chunk = b"0" * 65_536
        sent = 0
        for data in [prefix] + [chunk] * (SENT_BYTES // len(chunk)):
            if select.select([sock], [], [], 0)[0]:
                break  # the answer (or the close) is here: stop sending
            try:
                sock.sendall(b"%x\r\n%s\r\n" % (len(data), data))
            except OSError:
                break
            sent += len(data)
        received = b""
        while b"\r\n\r\n" not in received or len(received) < _answer_length(received):
            try:
                more = sock.recv(65_536)
            except ConnectionResetError:
                break
            if not more:
                break
            received += more
    header, _, body = received.partition(b"\r\n\r\n")
    length = _answer_length(received) - len(header) - 4
    return int(header.split()[1]), json.loads(body[:length]), sent


def _answer_length(received: bytes) -> int:
    """The whole answer's length in bytes, once its header is in (until then: a lot)."""
    header = received.partition(b"\r\n\r\n")[0].decode().lower()
    if "content-length:" not in header:
        return 1 << 30
    return len(header) + 4 + int(header.split("content-length:")[1].split("\r\n")[0])


def test_hostile_input_is_refused_clearly_while_a_call_keeps_streaming(
    server: ServerThread,
) -> None:
    """Regressions: caps read only Content-Length (a 200 MB chunked upload was spooled to disk
    before its 413, a chunked offer grew memory by 580 MB); seed=-1 or 2**70 was a plain 500;
    a 20,000-deep JSON message killed the websocket with a RecursionError; 300 websockets on one
    session were all accepted."""

    async def scenario() -> dict[str, Any]:
        call = await start_call(server.url)
        seen: dict[str, Any] = {}
        try:
            await asyncio.sleep(0.5)
            before = len(call.frames)
            multipart = (
                b'--b\r\nContent-Disposition: form-data; name="image"; filename="x.png"\r\n'
                b"Content-Type: image/png\r\n\r\n"
            )
            seen["upload"] = await _send_chunked(
                server.url, "/v1/avatars", "multipart/form-data; boundary=b", multipart
            )
            seen["offer"] = await _send_chunked(
                server.url, "/v1/sessions", "application/json", b'{"sdp": "v=0'
            )
            seen["patch"] = await _send_chunked(
                server.url,
                f"/v1/sessions/{call.session_id}",
                "application/json",
                b'{"emotion":"',
                "PATCH",
            )
            offer = call.pc.localDescription.sdp
            async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
                for name, options in {
                    "seed -1": {"seed": -1},
                    "seed 2**70": {"seed": 2**70},
                    "intensity": {"controls": {"emotion_intensity": 3}},
                    "gaze": {"controls": {"gaze_x": "left"}},
                    "fps": {"fps": 1000},
                }.items():
                    body = {"sdp": offer, "options": options}
                    seen[name] = await client.post("/v1/sessions", json=body)
                seen["patch gaze"] = await client.patch(
                    f"/v1/sessions/{call.session_id}", json={"gaze_y": 9}, headers=call.headers
                )
            url = speech_url(server.url, call.session_id)
            deep = "[" * 20_000 + "]" * 20_000
            async with websockets.connect(url, additional_headers=call.headers) as ws:
                await ws.send(deep)
                seen["deep"] = json.loads(await asyncio.wait_for(ws.recv(), 10))
                crowd = [_ws_outcome(url, call.headers) for _ in range(40)]
                seen["crowd"] = await asyncio.gather(*crowd)
                await ws.send(json.dumps({"type": "dance"}))  # the first socket still works
                seen["after"] = json.loads(await asyncio.wait_for(ws.recv(), 10))
            assert call.channel is not None
            call.channel.send(deep[:30_000])
            await asyncio.sleep(1.0)
            seen["channel"] = [json.loads(m) for m in call.channel_messages]
            seen["frames_all_along"] = len(call.frames) - before
            seen["frames"] = await call.frames_arrive()
            seen["live"] = server.live_sessions
        finally:
            await call.close()
        return seen

    seen = asyncio.run(scenario())
    for name, reason in [("upload", "too_many_bytes"), ("offer", "sdp_too_large")]:
        status, body, sent = seen[name]
        assert (status, body["error"]) == (413, reason), (name, body)
        assert sent < SENT_BYTES / 4, (name, sent)  # refused at the cap, not after reading it all
    assert seen["patch"][0] == 413
    for name, field in [
        ("seed -1", "options.seed"),
        ("seed 2**70", "options.seed"),
        ("intensity", "options.controls.emotion_intensity"),
        ("gaze", "options.controls.gaze_x"),
    ]:
        response = seen[name]
        assert (response.status_code, response.json()["error"]) == (400, "bad_request"), name
        assert field in response.json()["detail"], (name, response.json())
    assert seen["fps"].status_code == 400 and "fps" in seen["fps"].json()["detail"]
    assert seen["patch gaze"].status_code == 400 and "gaze_y" in seen["patch gaze"].json()["detail"]
    assert seen["deep"]["error"] == "bad_message" and "nests" in seen["deep"]["detail"]
    assert {outcome for outcome, _ in seen["crowd"]} == {"closed"}
    assert {detail[0] for _, detail in seen["crowd"]} == {4409}
    assert seen["after"]["error"] == "bad_message"
    errors = [m for m in seen["channel"] if m["type"] == "error"]
    assert errors and "nests" in errors[0]["detail"]
    assert seen["live"] == 1
    assert seen["frames_all_along"] > 0 and seen["frames"]  # the call never stopped


def test_serve_refuses_a_public_address_without_a_key(capsys: pytest.CaptureFixture[str]) -> None:
    from server.cli import main as cli_main

    assert cli_main(["serve", "--host", "0.0.0.0", "--port", "1"]) == 2
    error = capsys.readouterr().err
    assert "without an API key" in error and "--insecure" in error


def test_docs_load_without_a_cdn_and_the_document_says_what_the_server_answers(
    server: ServerThread,
) -> None:
    pytest.importorskip("fastapi_offline")
    with httpx.Client(base_url=server.url) as client:
        page = client.get("/docs").text
        scripts = [part.split('"')[1] for part in page.split("src=")[1:]]
        assets = [client.get(src).status_code for src in scripts]
        redoc = client.get("/redoc").text
        document = client.get("/openapi.json").json()
    assert scripts and all(src.startswith("/") for src in scripts), scripts  # nothing remote
    assert set(assets) == {200}
    assert "cdn." not in page + redoc
    offer = document["paths"]["/v1/sessions"]["post"]["responses"]
    assert {"201", "400", "401", "403", "413", "503"} <= set(offer) and "422" not in offer
    state = document["paths"]["/v1/sessions/{session_id}"]["get"]
    assert {"401", "403", "404"} <= set(state["responses"]) and state["security"]

