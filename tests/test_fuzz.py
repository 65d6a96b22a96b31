"""Bounded fuzzing of a real server (issue 14), each part capped in examples and seconds:
schemathesis over the server's own OpenAPI document (no 5xx, every status, content type, header
and body as documented; schema-violating input refused), random mutations of a valid WebRTC offer,
and random speech websocket messages. Throughout, no 5xx, the server keeps answering, and no
session slot leaks: a real call still connects afterwards."""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from aiortc import RTCConfiguration, RTCPeerConnection

from tests.server_harness import ServerThread, running_server, server_settings, start_call

schemathesis = pytest.importorskip("schemathesis")  # a dev dependency (pyproject: dev extra)
hypothesis = pytest.importorskip("hypothesis")

from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.specs.openapi.checks import (  # noqa: E402
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

API_KEY = "fuzz-key"
KEY = {"Authorization": f"Bearer {API_KEY}"}
EXAMPLES_PER_OPERATION = 15
SDP_MUTATIONS = 100
WS_MESSAGES = 200
TIME_BUDGET_S = 25.0  # per part: stop early rather than run long on a busy CI machine
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    settings = server_settings(
        tmp_path_factory.mktemp("store"),
        api_key=API_KEY,
        max_upload_bytes=300_000,
        session_connect_timeout_s=5.0,
    )
    with running_server(settings) as running:
        yield running


def _fuzz_operation(operation: Any, mode: Any, base_url: str) -> int:
    """Run the operation's examples; schemathesis raises on the first failed check."""
    from hypothesis import HealthCheck, Phase, given, settings

    calls = 0

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        database=None,
        derandomize=True,  # the same examples on every run: a failure reproduces
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Any) -> None:
        nonlocal calls
        calls += 1
        if case.method.upper() == "DELETE" and case.path == "/v1/avatars/{avatar_id}":
            case.path_parameters = {"avatar_id": f"x{calls}"}  # never the built-ins
        case.call_and_validate(base_url=base_url, headers=KEY, checks=CHECKS, timeout=30)

    try:
        run()
    except hypothesis.errors.Unsatisfiable:
        pass  # nothing to negate (an operation without parameters or body)
    return calls


def test_schemathesis_finds_no_server_error_and_no_schema_mismatch(server: ServerThread) -> None:
    from schemathesis import GenerationMode

    schema = schemathesis.openapi.from_url(server.url + "/openapi.json")
    calls = 0
    started = time.monotonic()
    for result in schema.get_all_operations():
        operation = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            if time.monotonic() - started > TIME_BUDGET_S:
                break
            calls += _fuzz_operation(operation, mode, server.url)
    assert calls > 80, calls
    _still_serves_a_call(server)


def _mutations(offer: str, rng: random.Random) -> Iterator[str]:
    """Line drops, duplicates, swaps, truncations, byte flips and hostile values."""
    lines = offer.split("\r\n")
    hostile = ["", "\x00", "a=" + "x" * 5000, "m=video -1 UDP/TLS/RTP/SAVPF 96", "a=rtpmap:96 ",
               "a=fingerprint:sha-256 zz", "a=ice-ufrag:", "c=IN IP4 999.1.1.1", "m=video 9",
               "a=ssrc:4294967296 cname:x", "a=mid:" + "\u00e9" * 50, "b=AS:-1"]  # fmt: skip
    for _ in range(SDP_MUTATIONS):
        mutated = list(lines)
        for _ in range(rng.randint(1, 4)):
            i = rng.randrange(len(mutated))
            kind = rng.randrange(6)
            if kind == 0:
                del mutated[i]
            elif kind == 1:
                mutated.insert(i, mutated[rng.randrange(len(mutated))])
            elif kind == 2:
                j = rng.randrange(len(mutated))
                mutated[i], mutated[j] = mutated[j], mutated[i]
            elif kind == 3:
                mutated[i] = mutated[i][: rng.randrange(len(mutated[i]) + 1)]
            elif kind == 4 and mutated[i]:
                k = rng.randrange(len(mutated[i]))
                mutated[i] = mutated[i][:k] + chr(rng.randrange(32, 0x2FF)) + mutated[i][k + 1 :]
            else:
                mutated[i] = rng.choice(hostile)
        yield "\r\n".join(mutated)


def test_mutated_offers_never_give_a_server_error_or_leak_a_slot(server: ServerThread) -> None:
    async def scenario() -> tuple[dict[int, int], list[str]]:
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        pc.addTransceiver("video", direction="recvonly")
        pc.addTransceiver("audio", direction="recvonly")
        pc.createDataChannel("control")
        await pc.setLocalDescription(await pc.createOffer())
        offer = pc.localDescription.sdp
        await pc.close()
        statuses: dict[int, int] = {}
        bad: list[str] = []
        started = time.monotonic()
        async with httpx.AsyncClient(base_url=server.url, headers=KEY, timeout=30) as client:
            for sdp in _mutations(offer, random.Random(14)):
                if time.monotonic() - started > TIME_BUDGET_S:
                    break
                response = await client.post("/v1/sessions", json={"sdp": sdp})
                statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
                if response.status_code == 201:  # a harmless mutation: hang up at once
                    await client.delete(f"/v1/sessions/{response.json()['session_id']}")
                elif response.status_code >= 500 or "error" not in response.json():
                    bad.append(f"{response.status_code} {response.text[:200]} for {sdp!r}"[:500])
        return statuses, bad

    statuses, bad = asyncio.run(scenario())
    assert not bad, "\n".join(bad)
    assert statuses.get(400, 0) > 20, statuses  # most mutations are refused as bad_sdp
    assert server.live_sessions == 0
    _still_serves_a_call(server)


def _random_messages(rng: random.Random) -> Iterator[str | bytes]:
    values: list[Callable[[], Any]] = [
        lambda: rng.choice(["start", "end", "clear", "START", "", None, 7, [], {}]),
        lambda: rng.choice([16_000, -1, 0, 2**70, 1e308, "16000", None, True, 8_000, 48_001]),
    ]
    for _ in range(WS_MESSAGES):
        kind = rng.randrange(6)
        if kind == 0:
            yield json.dumps({"type": values[0](), "sample_rate": values[1]()})
        elif kind == 1:
            yield bytes(rng.randrange(256) for _ in range(rng.randrange(0, 700)))
        elif kind == 2:
            depth = rng.randrange(1, 40)
            yield "[" * depth + "]" * depth
        elif kind == 3:
            yield "".join(chr(rng.randrange(1, 0x3000)) for _ in range(rng.randrange(0, 200)))
        elif kind == 4:
            yield json.dumps(rng.choice([[], 1, "x", None, {"t": 1}, {"type": {"type": "end"}}]))
        else:
            yield json.dumps({"type": "start", "sample_rate": 16_000})


def test_random_speech_messages_are_refused_and_the_call_goes_on(server: ServerThread) -> None:
    import websockets

    from server.clients.speak_client import speech_url

    async def scenario() -> tuple[dict[str, int], bool, int]:
        call = await start_call(server.url, api_key=API_KEY)
        kinds: dict[str, int] = {}
        started = time.monotonic()
        try:
            url = speech_url(server.url, call.session_id)
            messages = _random_messages(random.Random(14))
            while time.monotonic() - started < TIME_BUDGET_S:
                async with websockets.connect(url, additional_headers=call.headers) as ws:
                    try:
                        async for message in _paced(messages):
                            await ws.send(message)
                    except websockets.ConnectionClosed as closed:
                        assert closed.rcvd is not None and closed.rcvd.code < 1011, closed
                        kinds[str(closed.rcvd.code)] = kinds.get(str(closed.rcvd.code), 0) + 1
                        continue
                    break
            alive = await call.frames_arrive()
            async with httpx.AsyncClient(base_url=server.url, headers=call.headers) as client:
                state = (await client.get(f"/v1/sessions/{call.session_id}")).status_code
        finally:
            await call.close()
        return kinds, alive, state

    closes, alive, state = asyncio.run(scenario())
    assert state == 200 and alive, (state, closes)  # the call never stopped
    assert server.live_sessions == 0
    _still_serves_a_call(server)


async def _paced(messages: Iterator[str | bytes]) -> Any:
    """Under the websocket's rate cap (200 messages/s): rate limiting is tested elsewhere."""
    for message in messages:
        yield message
        await asyncio.sleep(0.006)


def _still_serves_a_call(server: ServerThread) -> None:
    async def call_once() -> bool:
        call = await start_call(server.url, api_key=API_KEY)
        alive = await call.frames_arrive()
        await call.close()
        return alive

    assert asyncio.run(call_once())
    deadline = time.monotonic() + 10
    while server.live_sessions and time.monotonic() < deadline:
        time.sleep(0.1)
    assert server.live_sessions == 0

