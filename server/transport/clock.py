"""The media clock every transport paces a live stream by (WebRTC, Pipecat, LiveKit).

Frame k of a stream leaves k / fps seconds after frame 0, whatever the compute did; a clock the
engine fell more than CLOCK_RESET_FRAMES behind (CPU contention) restarts instead of sending a
burst of stale frames to catch up. Audio rides in the same frames, so lips and speech stay in
sync by construction.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from engine.contract import OutputFrame

CLOCK_RESET_FRAMES = 8  # when the engine falls this far behind the clock, restart the clock


async def paced(frames: AsyncIterator[OutputFrame], fps: int) -> AsyncIterator[OutputFrame]:
    """`frames` (a live stream's frames()) released at the media clock."""
    loop = asyncio.get_running_loop()
    clock_start: float | None = None
    async for frame in frames:
        now = loop.time()
        if clock_start is None:
            clock_start = now - frame.index / fps
        due = clock_start + frame.index / fps
        if due > now:
            await asyncio.sleep(due - now)
        elif now - due > CLOCK_RESET_FRAMES / fps:
            clock_start = now - frame.index / fps
        yield frame
