"""A Pipecat bot with a Gioconda face, no keys needed: open http://127.0.0.1:7860/ and press
Connect. It greets you, then says back what you type (an echo "LLM"); with keys, put any
Pipecat STT and LLM where EchoLLM is.

    transport.input() -> EchoLLM -> GiocondaTTSService -> GiocondaVideoService -> transport.output()

SmallWebRTC (aiortc) carries the face and the voice to the browser; the engine runs in this
process. Run it in the agents environment (bash scripts/setup_agents.sh pipecat):

    .venv-agents/bin/python examples/pipecat_bot/bot.py [--avatar NAME.avatar.npz]

(Without --avatar the built-in portrait, which ships prepared. Another portrait: that environment
has no mediapipe, so prepare it where Gioconda's [portraits] extra is installed with
`gioconda prepare IMAGE -o NAME.avatar.npz`; docs/agents.md.)
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
from typing import Any

from aiohttp import web
from pipecat.frames.frames import Frame, InputTransportMessageFrame, TTSSpeakFrame
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.worker import PipelineParams, PipelineWorker
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
from pipecat.transports.base_transport import TransportParams
from pipecat.transports.smallwebrtc.connection import SmallWebRTCConnection
from pipecat.transports.smallwebrtc.transport import SmallWebRTCTransport
from pipecat.workers.runner import WorkerRunner

from engine.contract import StreamOptions
from server.integrations.pipecat import GiocondaTTSService, GiocondaVideoService
from server.settings import IceLoopback
from server.transport.webrtc import configure_ice_loopback, filter_remote_candidates

PAGE = Path(__file__).with_name("index.html")
GREETING = "Hello! I am a portrait that talks. Type something and I will say it back."
FPS = 25  # the browser, the bot and the engine share this machine's CPU


class EchoLLM(FrameProcessor):  # type: ignore[misc]
    """Stands in for an LLM: answers each typed message by saying it back."""

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, InputTransportMessageFrame) and isinstance(frame.message, dict):
            text = str(frame.message.get("text", "")).strip()[:300]
            if text:
                await self.push_frame(TTSSpeakFrame(f"You said: {text}"))
            return
        await self.push_frame(frame, direction)


async def run_bot(connection: SmallWebRTCConnection, avatar: Path | None) -> None:
    transport = SmallWebRTCTransport(
        webrtc_connection=connection,
        params=TransportParams(
            audio_in_enabled=True,
            audio_out_enabled=True,
            audio_out_sample_rate=16_000,
            video_out_enabled=True,
            video_out_is_live=True,
            video_out_width=512,
            video_out_height=512,
            video_out_framerate=FPS,
        ),
    )
    face = GiocondaVideoService(avatar=avatar, options=StreamOptions(fps=FPS))
    pipeline = Pipeline(
        [transport.input(), EchoLLM(), GiocondaTTSService(), face, transport.output()]
    )
    worker = PipelineWorker(pipeline, params=PipelineParams(allow_interruptions=True))

    @transport.event_handler("on_client_connected")  # type: ignore[misc]
    async def greet(transport: Any, client: Any) -> None:
        await worker.queue_frame(TTSSpeakFrame(GREETING))

    @transport.event_handler("on_client_disconnected")  # type: ignore[misc]
    async def bye(transport: Any, client: Any) -> None:
        await worker.cancel()

    runner = WorkerRunner(handle_sigint=False)
    await runner.add_workers(worker)
    await runner.run()


def make_app(avatar: Path | None) -> web.Application:
    bots: set[asyncio.Task[None]] = set()

    async def index(_: web.Request) -> web.FileResponse:
        return web.FileResponse(PAGE)

    async def offer(request: web.Request) -> web.Response:
        body = await request.json()
        connection = SmallWebRTCConnection(ice_servers=[])
        await connection.initialize(sdp=filter_remote_candidates(body["sdp"]), type=body["type"])
        task = asyncio.get_running_loop().create_task(run_bot(connection, avatar))
        bots.add(task)
        task.add_done_callback(bots.discard)
        return web.json_response(connection.get_answer())

    async def stop_bots(_: web.Application) -> None:
        for task in list(bots):
            task.cancel()
        await asyncio.gather(*bots, return_exceptions=True)

    app = web.Application()
    app.on_shutdown.append(stop_bots)
    app.router.add_get("/", index)
    app.router.add_post("/api/offer", offer)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--avatar", type=Path, help="a prepared .avatar.npz (default: the built-in portrait)"
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=7860)
    parser.add_argument(
        "--ice-loopback",
        type=IceLoopback,
        default=IceLoopback.ADD,
        choices=list(IceLoopback),
        help="offer 127.0.0.1 too (add), alone (only: traffic stays on loopback), or not (off)",
    )
    args = parser.parse_args()
    configure_ice_loopback(args.ice_loopback)
    web.run_app(make_app(args.avatar), host=args.host, port=args.port)


if __name__ == "__main__":
    main()
