"""The avatar worker LiveKit dispatches jobs to: `gioconda livekit-worker` (docs/agents.md).

Flow of one job: the agent's `GiocondaAvatarSession` asks LiveKit to dispatch agent name
AGENT_NAME into its room, with JSON metadata {"avatar_identity", "agent_identity",
"avatar_id"} -> `accept_job` joins as `avatar_identity`, publishing on behalf of the agent ->
`run_avatar` waits for the agent, reads its speech from the `lk.audio_stream` byte stream
(DataStreamAudioReceiver), runs it through the engine (GiocondaVideoGenerator) and publishes
512x512 video + speech in sync (AvatarRunner, AVSynchronizer); `lk.clear_buffer` is answered
with `lk.playback_finished`. Jobs run as threads of one process sharing one engine, so one
machine's sessions are batched together; many machines register with the same LiveKit server,
which spreads rooms across them by their reported load.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from livekit.agents import JobContext, JobExecutorType, JobRequest, WorkerOptions
from livekit.agents.types import ATTRIBUTE_PUBLISH_ON_BEHALF
from livekit.agents.voice.avatar import AvatarOptions, AvatarRunner, DataStreamAudioReceiver

from engine.avatar.prepared import PreparedAvatar
from engine.contract import OUTPUT_AUDIO_RATE_HZ, StreamOptions
from server.integrations.livekit.video import GiocondaVideoGenerator

log = logging.getLogger(__name__)

AGENT_NAME = "gioconda-avatar"


@dataclass
class WorkerConfig:
    """What `gioconda livekit-worker` was given; avatars are prepared .avatar.npz files (or
    portraits, where mediapipe is installed; the default one ships prepared), loaded once and
    shared by every job."""

    avatars: dict[str, Path]  # avatar id -> file
    default_avatar: str
    profile: str = "low-latency"
    fps: int = 40
    max_sessions: int = 2
    _loaded: dict[str, PreparedAvatar] = field(default_factory=dict)
    _engine: Any = None
    active_sessions: int = 0  # jobs running now (the load reported to LiveKit)

    def avatar(self, avatar_id: str) -> PreparedAvatar:
        from engine.avatar.source import load_avatar

        key = avatar_id if avatar_id in self.avatars else self.default_avatar
        if key not in self._loaded:
            self._loaded[key] = load_avatar(self.avatars[key])
        return self._loaded[key]

    def engine(self) -> Any:
        if self._engine is None:
            from engine.stream.engine import StreamEngine

            self._engine = StreamEngine(threads=1)
            self._engine.warm_up(self.avatar(self.default_avatar))
        return self._engine


def job_metadata(text: str) -> dict[str, str]:
    try:
        data = json.loads(text or "{}")
    except ValueError:
        data = {}
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def worker_options(config: WorkerConfig) -> WorkerOptions:
    async def accept_job(request: JobRequest) -> None:
        meta = job_metadata(request.job.metadata)
        if config.active_sessions >= config.max_sessions:
            log.info("job %s rejected: at %d sessions", request.id, config.max_sessions)
            await request.reject()
            return
        await request.accept(
            name="Gioconda avatar",
            identity=meta.get("avatar_identity") or f"gioconda-{request.id}",
            attributes={ATTRIBUTE_PUBLISH_ON_BEHALF: meta.get("agent_identity", "")},
        )

    async def entrypoint(ctx: JobContext) -> None:
        await run_avatar(ctx, config)

    return WorkerOptions(
        entrypoint_fnc=entrypoint,
        request_fnc=accept_job,
        agent_name=AGENT_NAME,
        job_executor_type=JobExecutorType.THREAD,  # one engine, batched across the jobs
        load_fnc=lambda: config.active_sessions / max(config.max_sessions, 1),
    )


async def run_avatar(ctx: JobContext, config: WorkerConfig) -> None:
    meta = job_metadata(ctx.job.metadata)
    options = StreamOptions(
        avatar_id=meta.get("avatar_id", config.default_avatar),
        profile=config.profile,
        fps=config.fps,
    )
    avatar = await asyncio.to_thread(config.avatar, options.avatar_id)
    engine = await asyncio.to_thread(config.engine)
    stream = await asyncio.to_thread(engine.create_stream, avatar, options)
    config.active_sessions += 1
    runner: AvatarRunner | None = None
    try:
        await ctx.connect()
        agent_identity = meta.get("agent_identity") or None
        runner = AvatarRunner(
            ctx.room,
            audio_recv=DataStreamAudioReceiver(ctx.room, sender_identity=agent_identity),
            video_gen=GiocondaVideoGenerator(stream),
            options=AvatarOptions(
                video_width=512,
                video_height=512,
                video_fps=options.fps,
                audio_sample_rate=OUTPUT_AUDIO_RATE_HZ,
                audio_channels=1,
            ),
        )
        await runner.start()
        log.info("avatar %s in room %s for %s", options.avatar_id, ctx.room.name, agent_identity)
        left = asyncio.Event()
        ctx.room.on(
            "participant_disconnected",
            lambda p: left.set() if p.identity == agent_identity else None,
        )
        await left.wait()  # the agent left: this session is over
    finally:
        config.active_sessions -= 1
        if runner is not None:
            await runner.aclose()
        await stream.close()
        ctx.shutdown("agent left")
