"""One stream's model-side state, driven by the scheduler's worker thread only.

audio timeline (speech or silence) -> streaming audio features -> sliding-window motion (sampled
by the scheduler, possibly batched) -> retarget onto the portrait -> interpolate to the video
clock -> one PipelineFrame per 1/fps with its slice of the timeline's audio.

Audio is placed on the timeline only when a window needs it (pull model), so speech that arrives
while idle lands at the earliest sample the next window has not heard yet. Speech policy:
- live streams: a segment that is still arriving starts behind a silence pad, so that its
  audio is at least `start_lead_samples` ahead of the frame being shown (W + L + 1 motion frames
  plus the frame channel): a real-time source then keeps ahead of the windows and never starves
  mid-word. A segment whose audio is already queued that far (a TTS burst) or whose end is
  queued starts at once. The pad is the price of real-time sources: their latency is that lead.
- an open segment whose queue runs dry waits for more audio while `may_wait` (the consumer still
  has frames buffered, or offline); otherwise the gap is filled with silence (an underrun).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from engine.contract import Controls, StreamOptions
from engine.motion.batch import WindowedMotionStream, WindowRequest
from engine.motion.features import AudioFeatureStream
from engine.motion.profiles import get_profile
from engine.motion.retarget import interpolate, motion_frames_needed, motion_position, retarget
from engine.motion.sampler import MotionControls
from engine.stream.speech_queue import SegmentEnd, SpeechQueue
from engine.stream.timeline import FrameAudio, Timeline, frame_start_sample
from models import motion_space as ms
from models.audio_features import HOP_SAMPLES
from models.motion_checkpoint import MotionModel


def motion_controls(controls: Controls) -> MotionControls:
    return MotionControls(
        controls.emotion,
        controls.emotion_intensity,
        (controls.gaze_x, controls.gaze_y),
        controls.head_distance,
    )


@dataclass(frozen=True)
class PipelineFrame:
    index: int
    motion: NDArray[np.float32]  # (MOTION_DIM,) retargeted, at the frame's centre
    audio: FrameAudio


class StreamPipeline:
    def __init__(
        self,
        model: MotionModel,
        source_motion: NDArray[np.float32],
        options: StreamOptions,
        queue: SpeechQueue,
        start_lead_samples: int | None = None,
    ) -> None:
        """start_lead_samples: live streams' lead for segments still arriving; None: offline."""
        self.fps = options.fps
        profile = get_profile(options.profile)
        self._features = AudioFeatureStream(model.log_mel, model.encoder)
        self.motion = WindowedMotionStream(
            model, profile, motion_controls(options.controls), options.seed
        )
        self._lookahead_samples = model.encoder.config.lookahead_frames * HOP_SAMPLES
        self._start_lead_samples = start_lead_samples
        self._queue = queue
        self._timeline = Timeline()
        self._source_motion = source_motion
        self._buffer = np.zeros((0, ms.MOTION_DIM), dtype=np.float32)  # retargeted motion
        self._buffer_first = 0  # motion frame index of self._buffer[0]
        self._speaking: int | None = None  # segment being placed on the timeline
        self._pad_samples = 0  # silence still to place before the segment's first sample
        self.departed_frames = 0  # set by the consumer: frames that have left the stream
        self._clears_seen = 0
        self._pending_controls: deque[Controls] = deque()  # appended by the caller's thread
        self.next_frame = 0
        self.underruns = 0

    def needs_window(self) -> bool:
        return motion_frames_needed(self.next_frame, self.fps) > self.motion.frames_emitted

    def request_window(self, may_wait: bool) -> WindowRequest | None:
        """Place audio until the next window can be sampled -> its request; None while the
        open segment waits for audio."""
        self._apply_controls()
        while not self.motion.window_ready():
            wanted = self.motion.features_needed() * HOP_SAMPLES + self._lookahead_samples
            fed = self._feed(max(HOP_SAMPLES, wanted - self._timeline.fed_samples), may_wait)
            if len(fed) == 0:
                return None
            self.motion.add_features(self._features.push(fed))
        return self.motion.window_request()

    def add_window(self, frames: NDArray[np.float32]) -> None:
        """(W, M) sampled motion frames -> retargeted onto the portrait and buffered."""
        self._buffer = np.concatenate([self._buffer, retarget(frames, self._source_motion)])

    def take_frame(self) -> PipelineFrame:
        """The next video frame's motion and audio (needs_window() must be False)."""
        k = self.next_frame
        motion = interpolate(self._buffer, self._buffer_first, k, self.fps)
        audio = self._timeline.take_frame(k, self.fps)
        self.next_frame += 1
        keep_from = max(0, int(np.floor(motion_position(self.next_frame, self.fps))))
        drop = max(0, keep_from - self._buffer_first)
        self._buffer = self._buffer[drop:]
        self._buffer_first += drop
        return PipelineFrame(k, motion, audio)

    def set_controls(self, controls: Controls) -> None:
        """From any thread; applied from the next window on (deque append/pop are atomic)."""
        self._pending_controls.append(controls)

    def _apply_controls(self) -> None:
        controls = None
        while self._pending_controls:
            controls = self._pending_controls.popleft()
        if controls is None:
            return
        self.motion.set_controls(motion_controls(controls))
        guidance = controls.audio_guidance
        self.motion.guidance_scale = (
            self.motion.profile.guidance_scale if guidance is None else guidance
        )

    def _apply_clear(self) -> None:
        if self._queue.clear_count == self._clears_seen:
            return
        self._clears_seen = self._queue.clear_count
        below = self._queue.cleared_below
        self._timeline.drop_segments(below)
        if self._speaking is not None and self._speaking < below:
            self._speaking = None
            self._pad_samples = 0
        # Windows from now on hear silence where the interrupted speech was already fed.
        self.motion.silence_from(2 * self.motion.frames_emitted)

    def _feed(self, count: int, may_wait: bool) -> NDArray[np.float32]:
        """Place up to `count` samples on the timeline -> what was placed (maybe less)."""
        self._apply_clear()
        if self._start_lead_samples is None and self._partial_request(count):
            return np.zeros(0, dtype=np.float32)
        parts = [np.zeros(0, dtype=np.float32)]
        remaining = count
        while remaining > 0:
            if self._speaking is None and not self._start_segment():
                parts.append(self._timeline.feed_silence(remaining))
                break
            if self._pad_samples > 0:
                pad = min(self._pad_samples, remaining)
                parts.append(self._timeline.feed_silence(pad))
                self._pad_samples -= pad
                remaining -= pad
                continue
            item = self._queue.take(remaining)
            if item is None:
                if not may_wait:
                    self.underruns += 1
                    parts.append(self._timeline.feed_silence(remaining))
                break
            if isinstance(item, SegmentEnd):
                self._timeline.end_segment(item.segment_id)
                self._speaking = None
                continue
            parts.append(self._timeline.feed_speech(item.samples, item.segment_id, item.arrival_s))
            remaining -= len(item.samples)
        return np.concatenate(parts)

    def _start_segment(self) -> bool:
        """Begin placing the front segment (after its pad, if live) -> False when none queued."""
        front = self._queue.front_segment()
        if front is None:
            return False
        segment_id, queued, ended = front
        self._speaking = segment_id
        if self._start_lead_samples is not None and not ended:
            shown = frame_start_sample(self.departed_frames, self.fps)
            lead = self._timeline.fed_samples - shown
            self._pad_samples = max(0, self._start_lead_samples - lead - queued)
        return True

    def _partial_request(self, count: int) -> bool:
        """Offline: whether only part of `count` is queued for a segment still arriving. Offline
        streams then wait, so the encoder sees the same chunks however the file was pushed."""
        front = self._queue.front_segment()
        if front is None:
            return False
        _, queued, ended = front
        return not ended and queued < count
