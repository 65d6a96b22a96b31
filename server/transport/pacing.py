"""Pacing and the visible label, shared by every transport (WebRTC today; a recorder, Pipecat
or LiveKit tomorrow): a transport supplies a `FrameSink`, this module does the rest.

`MediaClockPump` pulls `OutputFrame`s from the engine at the media clock (frame k at
t0 + k / fps) and hands each one, labelled, to the sink at its due time: the picture and the audio
that belongs to it together. When the engine falls behind, late frames leave at twice real time
until the stream is on time again (`paced`). The label ("AI-generated") is rendered once with PIL
into a small RGBA patch; per frame only that patch is blended into a copy of the frame's corner (a
few hundred microseconds at 512x512).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Protocol

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageDraw, ImageFont

from engine.contract import OutputFrame, SessionStream
from engine.stream.degrade import STALL_S

CATCH_UP_PERIOD_FRAMES = 0.5  # a late stream's frames leave at least this many periods apart

MARGIN_PX = 10
PADDING_PX = 6
FONT_SIZE_PX = 16


class LabelPainter:
    def __init__(self, text: str) -> None:
        font = _font()
        left, top, right, bottom = font.getbbox(text)
        width = int(right - left) + 2 * PADDING_PX
        height = int(bottom - top) + 2 * PADDING_PX
        patch = Image.new("RGBA", (width, height), (0, 0, 0, 150))
        ImageDraw.Draw(patch).text(
            (PADDING_PX - left, PADDING_PX - top), text, font=font, fill=(255, 255, 255, 255)
        )
        rgba = np.asarray(patch, np.float32)
        self._alpha = rgba[..., 3:] / 255.0  # (h, w, 1)
        self._premultiplied = rgba[..., :3] * self._alpha  # (h, w, 3)
        self.size = (width, height)

    def paint(self, rgb: NDArray[np.uint8]) -> NDArray[np.uint8]:
        """A copy of the frame with the label in its bottom-left corner."""
        out = rgb.copy()
        width, height = self.size
        y0 = out.shape[0] - MARGIN_PX - height
        region = out[y0 : y0 + height, MARGIN_PX : MARGIN_PX + width].astype(np.float32)
        blended = self._premultiplied + region * (1.0 - self._alpha)
        out[y0 : y0 + height, MARGIN_PX : MARGIN_PX + width] = np.clip(blended + 0.5, 0, 255)
        return out


def _font() -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    for name in ("DejaVuSans-Bold.ttf", "DejaVuSans.ttf"):
        try:
            return ImageFont.truetype(name, FONT_SIZE_PX)
        except OSError:
            continue
    return ImageFont.load_default(size=FONT_SIZE_PX)


def labelled_picture(frame: OutputFrame, label: LabelPainter | None) -> NDArray[np.uint8]:
    """The frame's picture, labelled when the label is on, for a transport that always sends
    video (Pipecat, LiveKit): their streams are created with the video output."""
    if frame.video is None:
        raise ValueError("this transport sends video: the stream's outputs must include video")
    return label.paint(frame.video) if label is not None else frame.video


async def paced(frames: AsyncIterator[OutputFrame], fps: int) -> AsyncIterator[OutputFrame]:
    """`frames` (a live stream's frames()) released at the media clock: frame k leaves k / fps
    seconds after frame 0. A frame that is early waits for its time; a late one leaves half a
    period after the one before, so a stream that fell behind (CPU contention) catches up at
    twice real time and its speech-to-screen delay returns to its target (the engine makes late
    frames cheap: engine/stream/degrade.py) instead of keeping the lost time as delay, which a
    restarted clock would. Only a stall longer than STALL_S restarts the clock, as the engine
    does. Audio rides in the same frames, so lips and speech stay in sync."""
    loop = asyncio.get_running_loop()
    clock_start: float | None = None
    sent_s = 0.0
    async for frame in frames:
        now = loop.time()
        if clock_start is None:
            clock_start = now - frame.index / fps
        due = clock_start + frame.index / fps
        if due > now:
            await asyncio.sleep(due - now)
        elif now - due > STALL_S:
            clock_start = now - frame.index / fps
        elif now - sent_s < CATCH_UP_PERIOD_FRAMES / fps:
            # Late: catch up at twice real time, not in one burst that a video encoder would
            # mostly drop (a debt of a second is paid in a second).
            await asyncio.sleep(sent_s + CATCH_UP_PERIOD_FRAMES / fps - now)
        sent_s = loop.time()
        yield frame


class FrameSink(Protocol):
    """Where a transport takes a paced frame: `rgb` is the picture to send (labelled when the
    label is on; None for a session whose outputs leave video out), `frame` the engine's frame
    with its audio and timestamps."""

    def __call__(self, frame: OutputFrame, rgb: NDArray[np.uint8] | None) -> None: ...


class MediaClockPump:
    """Pulls frames from the engine at the media clock and hands each, labelled, to a sink."""

    def __init__(
        self,
        stream: SessionStream,
        sink: FrameSink,
        *,
        fps: int,
        label: LabelPainter | None,
        on_frame: Callable[[OutputFrame], None] | None = None,
    ) -> None:
        self._stream = stream
        self._sink = sink
        self._fps = fps
        self._label = label
        self._on_frame = on_frame
        self.frames_pulled = 0
        self.speaking = False  # the last frame's audio belongs to a speech segment

    async def run(self) -> None:
        async for frame in paced(self._stream.frames(), self._fps):
            self._deliver(frame)

    def _deliver(self, frame: OutputFrame) -> None:
        rgb = None if frame.video is None else labelled_picture(frame, self._label)
        self._sink(frame, rgb)
        self.frames_pulled += 1
        self.speaking = frame.speaking
        if self._on_frame is not None:
            self._on_frame(frame)
