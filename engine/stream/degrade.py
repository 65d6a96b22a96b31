"""What a live stream gives up when it falls behind its media clock, and what it never gives up.

Frame k of a live stream is due at anchor + k / fps on the consumer's clock (anchored when
frame 0 departs). A stream that is late keeps its speech-to-screen delay bounded by catching
up, never by re-anchoring the clock: re-anchoring forgives the debt, and with a real-time
source (a microphone) every forgiven frame stays in the speech queue as permanent delay (the
9 s delay of issue 13 was a stream that kept re-anchoring).

Policy, cheapest loss first (bench stream: the decoder is ~70 % of a frame's cost, motion
sampling and the audio encoder ~20 %):
1. A frame gets a new picture only if the worker can finish it in time: its measured picture
   cost, after the work already planned in the same round, must end no later than SLACK_FRAMES
   after the frame is due. Otherwise the last picture is shown again (a repeat costs almost
   nothing), which also pays back lateness: late frames leave at twice real time (the server's
   pump, bench stream) and a late stream makes them in runs of CATCH_UP_FRAMES per round. So a
   worker that can decode 3 pictures in 4 frame periods shows 3 new pictures in 4, evenly
   spread, and stays on time; round 1's rule (late by more than 1, 2, 4 or 8 frames: decode
   1 frame in 2, 4, 8 or 16) decoded far fewer than the machine could (90 % repeats beside two
   busy processes) because lateness, once there, held the stride up while it was paid back.
2. The mouth never gets too old: after MAX_REPEATS repeats in a row (by lateness: 3 while late
   by at most 4 frames, then 7, then 15 beyond 8 frames) the next picture is decoded even if it
   is late. A repeated picture shows the mouth of an earlier frame: up to 75 ms (on time), 175 ms
   or 375 ms (more than 8 frames late, after a stall) older than the audio heard with it.
3. Late by more than ECONOMY_LATE_FRAMES (4): motion windows are sampled in economy, with
   fewer diffusion steps and no classifier-free guidance (a quarter of the denoiser calls; the
   motion is a little less lively for that second, see engine/motion/batch.py).
4. Never degraded: audio continuity and A/V sync. Every frame still carries its own slice of
   the one audio timeline and the motion at its instant (no window is skipped), so audio stays
   continuous and in sync with the mouth.
5. A consumer that has not pulled for STALL_S (a stalled peer, not a slow engine) re-anchors
   the clock, counted as a resync: catching up on many seconds would only burst stale frames.
Offline streams never degrade.
"""

from __future__ import annotations

from dataclasses import dataclass

STALL_S = 5.0
SLACK_FRAMES = 1.0  # a new picture may finish up to this many frame periods after its due time
# (late by more than N frames, at most this many repeated pictures in a row)
MAX_REPEATS = ((8.0, 15), (4.0, 7))
ON_TIME_MAX_REPEATS = 3
ECONOMY_LATE_FRAMES = 4.0
CATCH_UP_LATE_FRAMES = 2.0
CATCH_UP_FRAMES = 8  # frames a late stream may make per worker round, beyond its channel


def catching_up(late_frames: float) -> bool:
    """Whether a live stream is late enough to make its frames in runs of CATCH_UP_FRAMES."""
    return late_frames > CATCH_UP_LATE_FRAMES


def economy_motion(late_frames: float) -> bool:
    """Whether a live stream this late samples its next motion window in economy."""
    return late_frames > ECONOMY_LATE_FRAMES


def max_repeats(late_frames: float) -> int:
    """How many repeated pictures in a row a stream this late may show before a new one."""
    return next((n for limit, n in MAX_REPEATS if late_frames > limit), ON_TIME_MAX_REPEATS)


@dataclass(frozen=True)
class Decision:
    render: bool  # decode a new picture for this frame (else repeat the last)
    late_frames: float  # how far behind the media clock the frame is (negative: early)
    resync: bool  # the clock was re-anchored (a stalled consumer)


def decide(
    now_s: float,
    anchor_s: float,
    frame_index: int,
    fps: int,
    *,
    ready_s: float | None = None,
    round_due_s: float | None = None,
    repeats: int = 0,
) -> Decision:
    """The degradation for frame `frame_index` of a live stream at `now_s`. ready_s: when a new
    picture for it would be ready (now, plus the work planned before it, plus its measured
    cost; None: not measured yet, so decode); round_due_s: the earliest due time of the frames
    already planned in the same worker round, which leave only when its pictures are done;
    repeats: pictures repeated in a row before this frame."""
    late_frames = (now_s - anchor_s) * fps - frame_index
    if late_frames > STALL_S * fps:
        return Decision(True, late_frames, True)
    due_s = anchor_s + frame_index / fps
    if round_due_s is not None:
        due_s = min(due_s, round_due_s)
    in_time = ready_s is None or ready_s <= due_s + SLACK_FRAMES / fps
    return Decision(in_time or repeats >= max_repeats(late_frames), late_frames, False)
