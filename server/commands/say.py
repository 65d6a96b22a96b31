"""`gioconda say SESSION_ID "text"`: the server's built-in voice says the text in a live session."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
from typing import Any


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "say",
        help="make a live session's avatar say a text with the server's built-in voice",
        description="POSTs the text to /v1/sessions/SESSION_ID/say and prints the playback "
        "events (from the speech websocket) until the text has been played.",
    )
    parser.add_argument("session_id", help="the session id (shown by the web page)")
    parser.add_argument("text", help="what to say")
    parser.add_argument("--url", default="http://127.0.0.1:8000", help="server base URL")
    parser.add_argument(
        "--token",
        default=os.environ.get("GIOCONDA_SESSION_TOKEN"),
        help="the session's token (the web page shows it; default $GIOCONDA_SESSION_TOKEN)",
    )
    parser.add_argument("--api-key", help="the server's API key instead of a session token")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    import websockets

    from server.clients.say_client import SayRefused, say

    def show(event: dict[str, Any]) -> None:
        print(json.dumps(event))

    try:
        token = args.token or args.api_key
        answer = asyncio.run(say(args.url, args.session_id, args.text, token=token, on_event=show))
    except SayRefused as exc:
        print(f"gioconda say: refused: {exc}")
        return 1
    except (websockets.InvalidStatus, websockets.ConnectionClosed, OSError) as exc:
        print(f"gioconda say: cannot reach the session: {exc}")
        return 1
    print(f"{answer['voice']} said {answer['characters']} characters")
    return 0
