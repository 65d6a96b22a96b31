"""`gioconda speak SESSION_ID FILE`: stream a sound file to a session as a TTS would."""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "speak",
        help="stream a sound file into a live session over the agent speech websocket",
        description="Sends the file as 16 kHz int16 PCM in 20 ms chunks, in real time, over "
        "WS /v1/sessions/SESSION_ID/speech, then prints the playback events.",
    )
    parser.add_argument("session_id", help="the session id (shown by the web page)")
    parser.add_argument("file", type=Path, help="any sound file PyAV reads (wav, flac, ogg, mp3)")
    parser.add_argument("--url", default="http://127.0.0.1:8000", help="server base URL")
    parser.add_argument("--api-key", help="the server's API key, if it has one")
    parser.add_argument("--rate", type=int, default=16_000, help="sample rate to send (Hz)")
    parser.add_argument("--clear-after", type=float, help="interrupt after this many seconds")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    import websockets

    from server.clients.speak_client import load_pcm, speak, speech_url

    samples = load_pcm(args.file, args.rate)
    url = speech_url(args.url, args.session_id, args.api_key)
    print(f"streaming {len(samples) / args.rate:.1f} s of {args.file} to {url}")
    try:
        result = asyncio.run(
            speak(
                url,
                samples,
                args.rate,
                clear_after_s=args.clear_after,
                on_event=lambda e: print(
                    json.dumps({k: v for k, v in e.items() if k != "received_s"})
                ),
            )
        )
    except websockets.ConnectionClosed as exc:
        print(f"the server closed the connection: {exc}")
        return 1
    print(f"sent {result.sent_s:.2f} s")
    return 0
