"""A/V sync over 10 minutes: the clock arithmetic every stream frame goes through.

The stream cuts its audio timeline into frames with `Timeline.take_frame` and stamps video with
`frame_video_pts`; this runs exactly that path over 10 minutes of audio (speech runs in odd chunk
sizes between silences, as the pipeline places them) without the models, so it is fast.
"""

from __future__ import annotations

import numpy as np
import pytest

from engine.contract import OUTPUT_AUDIO_RATE_HZ, VIDEO_CLOCK_HZ
from engine.stream.timeline import Timeline, frame_video_pts

TEN_MINUTES_S = 600


@pytest.mark.parametrize("fps", [25, 30, 40, 50])
def test_ten_minutes_of_audio_do_not_drift(fps: int) -> None:
    rng = np.random.default_rng(fps)
    total = TEN_MINUTES_S * OUTPUT_AUDIO_RATE_HZ
    # Every 0.5 s a one-sample click; the frame that carries it must be floor(t * fps).
    signal = np.zeros(total, np.float32)
    clicks = np.arange(0, total, OUTPUT_AUDIO_RATE_HZ // 2) + rng.integers(0, 100)
    signal[clicks] = 1.0
    timeline = Timeline()
    frames = TEN_MINUTES_S * fps
    video_pts, audio_pts, found = [], [], []
    played = 0
    segment = 0
    for k in range(frames):
        while timeline.fed_samples < (k + 1) * OUTPUT_AUDIO_RATE_HZ // fps:
            begin = timeline.fed_samples
            size = int(rng.integers(1, 3000))
            piece = signal[begin : begin + size]
            if rng.random() < 0.3:
                timeline.feed_silence(len(piece))
                signal[begin : begin + size] = 0.0  # silence replaces what was there
            else:
                segment += 1
                timeline.feed_speech(piece, segment, arrival_s=0.0)
                timeline.end_segment(segment)
        audio = timeline.take_frame(k, fps)
        video_pts.append(frame_video_pts(k, fps))
        audio_pts.append(audio.start)
        played += len(audio.samples)
        found.extend(audio.start + np.flatnonzero(audio.samples))
    video_s = np.array(video_pts) / VIDEO_CLOCK_HZ
    audio_s = np.array(audio_pts) / OUTPUT_AUDIO_RATE_HZ
    assert np.all(np.diff(video_pts) > 0) and np.all(np.diff(audio_pts) > 0)
    assert np.max(np.abs(video_s - audio_s)) < 1.0 / OUTPUT_AUDIO_RATE_HZ
    assert played == total, "frames carried exactly the 10 minutes of audio"
    assert video_pts[-1] + VIDEO_CLOCK_HZ // fps == TEN_MINUTES_S * VIDEO_CLOCK_HZ
    heard = np.array(found)
    expected = np.flatnonzero(signal)
    np.testing.assert_array_equal(heard, expected)
    shown_in = np.searchsorted(audio_pts, heard, side="right") - 1
    np.testing.assert_array_equal(shown_in, heard * fps // OUTPUT_AUDIO_RATE_HZ)
