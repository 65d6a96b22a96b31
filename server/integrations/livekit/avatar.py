"""Agent side: `GiocondaAvatarSession`, the way LiveKit's avatar plugins plug into an
AgentSession. It asks LiveKit to dispatch a Gioconda avatar worker into the room, then routes
the agent's speech to it over the `lk.audio_stream` byte stream (DataStreamAudioOutput) instead
of publishing audio itself; the avatar publishes video and the speech, in sync.

    session = AgentSession(stt=..., llm=..., tts=...)
    avatar = GiocondaAvatarSession(avatar_id="astronaut")
    await avatar.start(session, room=ctx.room)   # before session.start(...)
    await session.start(agent=..., room=ctx.room)

Needs LIVEKIT_URL / LIVEKIT_API_KEY / LIVEKIT_API_SECRET (as any LiveKit agent) for the
dispatch API. Not run here: no LiveKit server could run on the development machine.
"""

from __future__ import annotations

import json
from typing import Any

from livekit import api, rtc
from livekit.agents.voice.avatar import AvatarSession, DataStreamAudioOutput

from server.integrations.livekit.worker import AGENT_NAME


class GiocondaAvatarSession(AvatarSession[Any]):  # type: ignore[misc,unused-ignore]  # Any without the extra
    def __init__(self, *, avatar_id: str = "", avatar_identity: str = "") -> None:
        super().__init__()
        self._avatar_id = avatar_id
        self._avatar_identity = avatar_identity

    @property
    def avatar_identity(self) -> str:
        return self._avatar_identity

    @property
    def provider(self) -> str:
        return "gioconda"

    async def start(self, agent_session: Any, room: rtc.Room) -> None:
        agent_identity = room.local_participant.identity
        self._avatar_identity = self._avatar_identity or f"gioconda-{agent_identity}"
        metadata = {
            "avatar_identity": self._avatar_identity,
            "agent_identity": agent_identity,
            "avatar_id": self._avatar_id,
        }
        async with api.LiveKitAPI() as lkapi:
            await lkapi.agent_dispatch.create_dispatch(
                api.CreateAgentDispatchRequest(
                    agent_name=AGENT_NAME, room=room.name, metadata=json.dumps(metadata)
                )
            )
        await super().start(agent_session, room)
        agent_session.output.audio = DataStreamAudioOutput(
            room,
            destination_identity=self._avatar_identity,
            wait_remote_track=rtc.TrackKind.KIND_VIDEO,
        )
