"""`GiocondaVideoGenerator`: LiveKit Agents' VideoGenerator on the Gioconda engine.

livekit-agents' `AvatarRunner` reads the agent's speech from an `AudioReceiver` (the
`lk.audio_stream` byte stream in a room, `DataStreamAudioReceiver`), hands it to
`push_audio`, and publishes what `__aiter__` yields through `rtc.AVSynchronizer`: here one
512x512 `rtc.VideoFrame` per 1/fps on the media clock (server/transport/pacing.py) and, while
speaking, the 1/fps of speech it shows as an `rtc.AudioFrame` (16 kHz mono), so the room gets
video and audio in sync. `AudioSegmentEnd` marks a segment's last frame (the runner then sends
`lk.playback_finished`); `clear_buffer` (from `lk.clear_buffer`) drops queued speech and the face
returns to idle within one motion window, the runner answering with interrupted=true.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import numpy as np
from livekit import rtc
from livekit.agents.voice.avatar import AudioSegmentEnd, VideoGenerator

from engine.contract import OUTPUT_AUDIO_RATE_HZ, OutputFrame, SessionStream
from engine.errors import EngineError
from server.transport.pacing import LabelPainter, labelled_picture, paced

FRAME_SIZE_PX = 512


class GiocondaVideoGenerator(VideoGenerator):  # type: ignore[misc,unused-ignore]  # Any without the extra
    def __init__(self, stream: SessionStream, *, ai_label: str | None = "AI-generated") -> None:
        self._stream = stream
        self._label = LabelPainter(ai_label) if ai_label else None
        self._cleared = False  # the current segment was cut: no AudioSegmentEnd for it
        self.dropped_chunks = 0

    @property
    def fps(self) -> int:
        return self._stream.options.fps

    async def push_audio(self, frame: rtc.AudioFrame | AudioSegmentEnd) -> None:
        if isinstance(frame, AudioSegmentEnd):
            self._stream.end_segment()
            return
        samples = np.frombuffer(frame.data, dtype=np.int16)
        self._cleared = False
        try:
            self._stream.push_audio(samples, frame.sample_rate, frame.num_channels)
        except EngineError:  # a bad rate or a full queue: this chunk is lost, not the session
            self.dropped_chunks += 1

    def clear_buffer(self) -> None:
        self._cleared = True
        self._stream.clear()

    def __aiter__(self) -> AsyncIterator[rtc.VideoFrame | rtc.AudioFrame | AudioSegmentEnd]:
        return self._frames()

    async def _frames(self) -> AsyncIterator[rtc.VideoFrame | rtc.AudioFrame | AudioSegmentEnd]:
        speaking = False
        async for frame in paced(self._stream.frames(), self.fps):
            if speaking and not frame.speaking and not self._cleared:
                yield AudioSegmentEnd()  # the previous frame played the segment's last sample
            speaking = frame.speaking
            yield self._video(frame)
            if frame.speaking:
                yield rtc.AudioFrame(
                    data=frame.audio.tobytes(),
                    sample_rate=OUTPUT_AUDIO_RATE_HZ,
                    num_channels=1,
                    samples_per_channel=len(frame.audio),
                )

    def _video(self, frame: OutputFrame) -> rtc.VideoFrame:
        rgb = labelled_picture(frame, self._label)
        return rtc.VideoFrame(
            FRAME_SIZE_PX,
            FRAME_SIZE_PX,
            rtc.VideoBufferType.RGB24,
            np.ascontiguousarray(rgb).tobytes(),
        )
