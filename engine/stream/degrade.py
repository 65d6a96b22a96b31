"""What a live stream gives up when it falls behind its media clock, and what it never gives up.

Frame k of a live stream is due at anchor + k / fps on the consumer's clock (anchored when
frame 0 departs). A stream that is late keeps its speech-to-screen delay bounded by catching
up, never by re-anchoring the clock: re-anchoring forgives the debt, and with a real-time
source (a microphone) every forgiven frame stays in the speech queue as permanent delay (the
9 s delay of issue 13 was a stream that kept re-anchoring).

Policy, cheapest loss first (bench stream: the decoder is ~70 % of a frame's cost, motion
sampling and the audio encoder ~20 %):
1. late by more than 1, 2, 4 or 8 frames: decode 1 frame in 2, 4, 8 or 16 and repeat the last
   picture in between. The price: a repeated picture shows the mouth of an earlier frame, up
   to 175 ms (1 in 8) or 375 ms (1 in 16, only while more than 8 frames late) older than the
   audio heard with it; capped at 1 in 8, the delay still climbed by seconds beside two busy
   processes and three uploads. Repeated frames cost almost nothing, so the stream makes frames
   faster than real time (late by more than 2, in runs of up to CATCH_UP_FRAMES per worker
   round) and the consumer (the server's pump, bench stream) sends late frames at up to twice
   real time until it is on time again: a second of delay is paid back in about a second.
2. Late by more than ECONOMY_LATE_FRAMES (4): motion windows are sampled in economy, with
   fewer diffusion steps and no classifier-free guidance (a quarter of the denoiser calls; the
   motion is a little less lively for that second, see engine/motion/batch.py).
3. Never degraded: audio continuity and A/V sync. Every frame still carries its own slice of
   the one audio timeline and the motion at its instant (no window is skipped), so audio stays
   continuous and in sync with the mouth.
4. A consumer that has not pulled for STALL_S (a stalled peer, not a slow engine) re-anchors
   the clock, counted as a resync: catching up on many seconds would only burst stale frames.
Offline streams never degrade.
"""

from __future__ import annotations

from dataclasses import dataclass

STALL_S = 5.0
# (late by more than N frames, decode 1 frame in k)
LATE_STRIDES = ((8.0, 16), (4.0, 8), (2.0, 4), (1.0, 2))


ECONOMY_LATE_FRAMES = 4.0
CATCH_UP_LATE_FRAMES = 2.0
CATCH_UP_FRAMES = 8  # frames a late stream may make per worker round, beyond its channel


def catching_up(late_frames: float) -> bool:
    """Whether a live stream is late enough to make its frames in runs of CATCH_UP_FRAMES."""
    return late_frames > CATCH_UP_LATE_FRAMES


def economy_motion(late_frames: float) -> bool:
    """Whether a live stream this late samples its next motion window in economy."""
    return late_frames > ECONOMY_LATE_FRAMES


@dataclass(frozen=True)
class Decision:
    stride: int  # decode frames whose index is a multiple of this; repeat the others
    late_frames: float  # how far behind the media clock the frame is (negative: early)
    resync: bool  # the clock was re-anchored (a stalled consumer)


def decide(now_s: float, anchor_s: float, frame_index: int, fps: int) -> Decision:
    """The degradation for frame `frame_index` of a live stream at `now_s`."""
    late_frames = (now_s - anchor_s) * fps - frame_index
    if late_frames > STALL_S * fps:
        return Decision(1, late_frames, True)
    stride = next((stride for limit, stride in LATE_STRIDES if late_frames > limit), 1)
    return Decision(stride, late_frames, False)
