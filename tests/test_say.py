"""`POST /v1/sessions/{id}/say` and `gioconda say` against a real server with a live WebRTC call:
the built-in voice's speech plays (playback events on the speech websocket and the data channel,
audio on the call), the length cap and bad input are refused clearly, and a websocket `clear`
interrupts a text mid-way while the call keeps running."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import httpx
import pytest
import websockets

from server.cli import main as cli_main
from server.clients.speak_client import speech_url
from tests.server_harness import ServerThread, running_server, server_settings, start_call

TEXT = "Hello there. I am the portrait you are talking to."


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    settings = server_settings(tmp_path_factory.mktemp("store"), say_max_chars=200)
    with running_server(settings) as running:
        yield running


async def _events_until_finished(ws: websockets.ClientConnection) -> list[dict[str, object]]:
    events = []
    async for raw in ws:
        events.append(json.loads(raw))
        if events[-1]["type"] == "playback_finished":
            return events
    return events


def test_gioconda_say_speaks_into_the_call_with_playback_events(
    server: ServerThread, capsys: pytest.CaptureFixture[str]
) -> None:
    """`gioconda say` POSTs the text and prints the websocket's playback events; the call's
    data channel carries them too, and the call receives the speech audio."""

    async def scenario() -> tuple[int, list[str], int, int]:
        call = await start_call(server.url)
        try:
            await asyncio.sleep(0.5)
            before = call.audio_samples
            token = call.headers["Authorization"].removeprefix("Bearer ")
            argv = ["say", call.session_id, TEXT, "--url", server.url, "--token", token]
            code = await asyncio.to_thread(cli_main, argv)
            return code, call.channel_messages, before, call.audio_samples
        finally:
            await call.close()

    code, channel, audio_before, audio_after = asyncio.run(scenario())
    assert code == 0
    lines = capsys.readouterr().out.splitlines()
    events = [json.loads(line) for line in lines if line.startswith("{")]
    assert [e["type"] for e in events] == ["playback_started", "playback_finished"], lines
    assert events[1]["interrupted"] is False
    assert 1.5 < float(events[1]["position_s"]) < 8.0, events  # two short sentences of speech
    assert lines[-1].startswith(("piper:", "espeak-ng:")), lines
    assert lines[-1].endswith(f"said {len(TEXT)} characters"), lines
    on_channel = [json.loads(m)["type"] for m in channel]
    assert "playback_started" in on_channel and "playback_finished" in on_channel
    assert audio_after - audio_before > 48_000  # the call's audio track went on (48 kHz Opus)


def test_say_refuses_bad_text_and_unknown_sessions(server: ServerThread) -> None:
    async def scenario() -> list[httpx.Response]:
        call = await start_call(server.url)
        try:
            async with httpx.AsyncClient(base_url=server.url, headers=call.headers) as http:
                path = f"/v1/sessions/{call.session_id}/say"
                return [
                    await http.post(path, json={"text": "x" * 201}),
                    await http.post(path, json={"text": "   "}),
                    await http.post(path, json={"words": "hi"}),
                    await http.post("/v1/sessions/s_nope/say", json={"text": "hi"}),
                ]
        finally:
            await call.close()

    too_long, empty, malformed, unknown = asyncio.run(scenario())
    assert (too_long.status_code, too_long.json()["error"]) == (413, "text_too_long")
    assert "200" in too_long.json()["detail"]
    assert (empty.status_code, empty.json()["error"]) == (400, "empty_text")
    assert malformed.status_code == 400
    # Another session's token opens no door: an unknown (or someone else's) session is refused.
    assert unknown.status_code == 403, unknown.json()


def test_clear_interrupts_a_text_and_the_call_goes_on(server: ServerThread) -> None:
    long_text = " ".join(["This sentence is here to keep the avatar talking for a while."] * 3)

    async def scenario() -> tuple[list[dict[str, object]], int, int]:
        call = await start_call(server.url)
        try:
            url = speech_url(server.url, call.session_id)
            async with websockets.connect(url, additional_headers=call.headers) as ws:
                async with httpx.AsyncClient(base_url=server.url, headers=call.headers) as http:
                    await http.post(f"/v1/sessions/{call.session_id}/say", json={"text": long_text})
                first = json.loads(await asyncio.wait_for(ws.recv(), 60))
                await asyncio.sleep(1.0)
                await ws.send(json.dumps({"type": "clear"}))
                events = [first, *await asyncio.wait_for(_events_until_finished(ws), 10)]
                frames_at_clear = len(call.frames)
                await asyncio.sleep(3.0)  # nothing more is said: the queued sentences were dropped
                events += [json.loads(m) for m in await _pending(ws)]
            return events, frames_at_clear, len(call.frames)
        finally:
            await call.close()

    events, frames_at_clear, frames_after = asyncio.run(scenario())
    assert [e["type"] for e in events] == ["playback_started", "playback_finished"], events
    assert events[1]["interrupted"] is True
    assert 0.0 < float(events[1]["position_s"]) < 6.0, events  # of ~12 s: cut short
    assert frames_after - frames_at_clear > 60  # the call kept receiving video


async def _pending(ws: websockets.ClientConnection) -> list[str | bytes]:
    messages = []
    try:
        while True:
            messages.append(await asyncio.wait_for(ws.recv(), 0.2))
    except TimeoutError:
        return messages
