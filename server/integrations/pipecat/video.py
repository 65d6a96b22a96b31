"""`GiocondaVideoService`: a Pipecat processor that turns the bot's TTS audio into a talking face,
with the engine running in-process (no Gioconda server, no network hop).

Place it after the TTS service:  ... -> llm -> tts -> GiocondaVideoService -> transport.output()

- `TTSAudioRawFrame` (any rate, mono or stereo) goes into the engine and is *not* passed on: the
  same speech comes back out delayed to match the lips, as `TTSAudioRawFrame`s of 1/fps each,
  next to one `OutputImageRawFrame` (512x512 RGB) per frame, paced by the media clock
  (server/transport/pacing.py) at the session's fps.
- When nobody speaks, idle frames keep coming (blinks, small head motion, closed mouth), so the
  transport always has a picture; no audio is pushed then.
- `TTSStoppedFrame` ends the segment (it finishes when its audio has played);
  `InterruptionFrame` drops queued speech and the face returns to idle within one motion window.
- Every picture carries the visible AI label unless `ai_label=None`.

Needs `pip install "gioconda[pipecat]"`. That environment cannot have mediapipe (docs/agents.md):
it uses the default avatar, which ships prepared, or `.avatar.npz` files from `gioconda prepare`.
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Any

import numpy as np
from loguru import logger
from pipecat.frames.frames import (
    CancelFrame,
    EndFrame,
    Frame,
    InterruptionFrame,
    OutputImageRawFrame,
    StartFrame,
    TTSAudioRawFrame,
    TTSStoppedFrame,
)
from pipecat.processors.frame_processor import FrameDirection
from pipecat.services.ai_service import AIService
from pipecat.services.settings import ServiceSettings

from engine.avatar.prepared import PreparedAvatar
from engine.contract import OUTPUT_AUDIO_RATE_HZ, OutputFrame, SessionStream, StreamOptions
from engine.errors import EngineError
from server.transport.pacing import LabelPainter, labelled_picture, paced

FRAME_SIZE_PX = (512, 512)


class GiocondaVideoService(AIService):  # type: ignore[misc,unused-ignore]  # no stubs without the extra
    def __init__(
        self,
        *,
        avatar: PreparedAvatar | Path | str | None = None,
        options: StreamOptions | None = None,
        engine: Any = None,
        ai_label: str | None = "AI-generated",
        **kwargs: Any,
    ) -> None:
        """avatar: a PreparedAvatar, a `.avatar.npz` or portrait path (None: the built-in one);
        engine: an engine.stream.engine.StreamEngine to share between bots (None: one of its own,
        closed with the service)."""
        super().__init__(settings=ServiceSettings(model=None), **kwargs)
        self._avatar_source = avatar
        self._options = options or StreamOptions()
        self._engine = engine
        self._owns_engine = engine is None
        self._label = LabelPainter(ai_label) if ai_label else None
        self._stream: SessionStream | None = None
        self._frames_task: asyncio.Task[None] | None = None
        self.frames_pushed = 0

    @property
    def fps(self) -> int:
        return self._options.fps

    async def start(self, frame: StartFrame) -> None:
        await super().start(frame)
        self._stream = await asyncio.to_thread(self._open_stream)
        self._frames_task = self.create_task(self._push_frames(self._stream), "gioconda-frames")

    async def stop(self, frame: EndFrame) -> None:
        await super().stop(frame)
        await self._close()

    async def cancel(self, frame: CancelFrame) -> None:
        await super().cancel(frame)
        await self._close()

    async def cleanup(self) -> None:
        await super().cleanup()
        await self._close()

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        stream = self._stream
        if isinstance(frame, TTSAudioRawFrame) and stream is not None:
            self._push_speech(stream, frame)
            return  # it comes back out in sync with the lips
        if isinstance(frame, TTSStoppedFrame) and stream is not None:
            stream.end_segment()
        elif isinstance(frame, InterruptionFrame) and stream is not None:
            stream.clear()
        await self.push_frame(frame, direction)

    def _open_stream(self) -> SessionStream:
        from engine.avatar.source import load_avatar

        if self._engine is None:
            from engine.stream.engine import StreamEngine

            self._engine = StreamEngine(threads=1)
        source = self._avatar_source
        avatar = (
            source
            if isinstance(source, PreparedAvatar)
            else load_avatar(None if source is None else Path(source))
        )
        stream: SessionStream = self._engine.create_stream(avatar, self._options)
        logger.info(f"{self}: Gioconda avatar at {self.fps} fps, profile {self._options.profile}")
        return stream

    def _push_speech(self, stream: SessionStream, frame: TTSAudioRawFrame) -> None:
        samples = np.frombuffer(frame.audio, dtype=np.int16)
        try:
            stream.push_audio(samples, frame.sample_rate, frame.num_channels)
        except EngineError as exc:  # a bad rate, a full queue: this chunk is lost, not the bot
            logger.warning(f"{self}: speech dropped: {exc}")

    async def _push_frames(self, stream: SessionStream) -> None:
        async for frame in paced(stream.frames(), self.fps):
            await self.push_frame(self._image(frame))
            if frame.speaking:
                await self.push_frame(
                    TTSAudioRawFrame(
                        audio=frame.audio.tobytes(),
                        sample_rate=OUTPUT_AUDIO_RATE_HZ,
                        num_channels=1,
                    )
                )
            self.frames_pushed += 1

    def _image(self, frame: OutputFrame) -> OutputImageRawFrame:
        rgb = labelled_picture(frame, self._label)
        image = OutputImageRawFrame(image=rgb.tobytes(), size=FRAME_SIZE_PX, format="RGB")
        image.pts = frame.video_pts
        return image

    async def _close(self) -> None:
        """Idempotent: stop the frames, close the stream, and the engine if it is ours."""
        task, self._frames_task = self._frames_task, None
        if task is not None:
            await self.cancel_task(task)
        stream, self._stream = self._stream, None
        if stream is not None:
            with contextlib.suppress(EngineError):
                await stream.close()
        if self._owns_engine and self._engine is not None:
            engine, self._engine = self._engine, None
            await asyncio.to_thread(engine.close)
