"""The invisible watermark: the detector's answer on marked and unmarked frames, before and after
what a call or a re-upload does to them (a real VP8/H.264 encode with PyAV, a downscale, a crop,
a brightness/contrast change)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest
from numpy.typing import NDArray

from engine.watermark.detect import Detection, detect_frames
from engine.watermark.embed import WatermarkEmbedder
from engine.watermark.payload import WatermarkPayload
from engine.watermark.video import encode, read_windows

PAYLOAD = WatermarkPayload(server_id=0x51A7, stream_id=0x0C0D)
FPS = 25


@pytest.fixture(scope="module")
def unmarked(portrait_path: Callable[[str], Path]) -> list[NDArray[np.uint8]]:
    """1 s of a 512x512 painting that drifts (as a head moves): the mark does not move with it."""
    image = cv2.cvtColor(cv2.imread(str(portrait_path("mona_lisa.jpg"))), cv2.COLOR_BGR2RGB)
    image = cv2.resize(image, (560, 996), interpolation=cv2.INTER_AREA)
    return [image[120 + k : 632 + k, 20 + k : 532 + k].copy() for k in range(FPS)]


@pytest.fixture(scope="module")
def marked(unmarked: list[NDArray[np.uint8]]) -> list[NDArray[np.uint8]]:
    embedder = WatermarkEmbedder(PAYLOAD)
    return [embedder.embed(frame) for frame in unmarked]


def test_payload_layout_round_trips_and_the_crc_rejects_a_misread_symbol() -> None:
    symbols = PAYLOAD.symbols()
    assert WatermarkPayload.from_symbols(symbols) == PAYLOAD
    misread = (symbols[0] ^ 1, *symbols[1:])
    assert WatermarkPayload.from_symbols(misread) is None
    with pytest.raises(ValueError, match="server_id"):
        WatermarkPayload(server_id=1 << 16, stream_id=0)


def test_marked_frames_carry_the_payload_at_40_db(
    marked: list[NDArray[np.uint8]], unmarked: list[NDArray[np.uint8]]
) -> None:
    pairs = zip(marked, unmarked, strict=True)
    error = np.mean([(m.astype(np.float64) - u) ** 2 for m, u in pairs])
    assert 10 * np.log10(255**2 / error) >= 40.0
    _assert_found(detect_frames(marked))
    _assert_found(detect_frames(marked[:1]))  # one still image too


def test_flat_areas_get_a_fainter_mark_than_texture(unmarked: list[NDArray[np.uint8]]) -> None:
    """Flat cartoon skin shows mottling where a painting's texture hides it: the mark follows
    (after a stream's first second, whose floor is higher: a codec starts cold)."""
    from engine.watermark.embed import RESHAPE_FRAMES

    frame = unmarked[0].copy()
    frame[:, :256] = (236, 188, 160)  # the left half: flat skin tone
    embedder = WatermarkEmbedder(PAYLOAD)
    for _ in range(2 * RESHAPE_FRAMES):
        change = embedder.embed(frame).astype(np.float64) - frame
    flat, textured = change[40:472, 20:236], change[40:472, 276:492]
    assert np.sqrt(np.mean(flat**2)) < 1.7
    assert np.sqrt(np.mean(textured**2)) > 1.5 * np.sqrt(np.mean(flat**2))


def test_unmarked_frames_are_not_detected(unmarked: list[NDArray[np.uint8]]) -> None:
    detection = detect_frames(unmarked)
    assert not detection.present and detection.payload is None
    assert detection.false_positive_rate > 1e-3


@pytest.mark.parametrize("codec", ["libvpx", "libx264"])
def test_the_mark_survives_a_300_kbit_encode(
    codec: str, marked: list[NDArray[np.uint8]], unmarked: list[NDArray[np.uint8]]
) -> None:
    (decoded,) = read_windows(encode(marked, codec, 300, FPS))
    _assert_found(detect_frames(decoded))
    (decoded_unmarked,) = read_windows(encode(unmarked, codec, 300, FPS))
    assert not detect_frames(decoded_unmarked).present


@pytest.mark.parametrize(
    "transform",
    [
        lambda f: cv2.resize(f, (256, 256), interpolation=cv2.INTER_AREA),
        lambda f: f[40:501, 12:473],  # 10 % cropped away, not resized
        lambda f: cv2.resize(f[26:487, 26:487], (512, 512)),  # cropped 10 %, resized back
        lambda f: np.clip(f * 0.75 + 40, 0, 255).astype(np.uint8),  # contrast down, brighter
    ],
    ids=["downscale-256", "crop-10", "crop-10-resized", "brightness-contrast"],
)
def test_the_mark_survives_geometry_and_tone_changes(
    transform: Callable[[NDArray[np.uint8]], NDArray[np.uint8]],
    marked: list[NDArray[np.uint8]],
) -> None:
    _assert_found(detect_frames([transform(frame) for frame in marked]))


def _assert_found(detection: Detection) -> None:
    assert detection.present, detection
    assert detection.payload == PAYLOAD
    assert detection.false_positive_rate < 1e-6


def test_a_window_whose_resolution_changes_is_still_read(marked: list[NDArray[np.uint8]]) -> None:
    """Bug: frames of two sizes in one window (a recording that switched resolution) crashed the
    detector with a numpy broadcast error."""
    frames = [f if k % 2 else cv2.resize(f, (384, 384)) for k, f in enumerate(marked)]
    _assert_found(detect_frames(frames))


def _drawn_cartoon() -> list[NDArray[np.uint8]]:
    """1 s of a flat drawn cartoon (plain background, flat skin, a few hard edges) that drifts a
    pixel every few frames: the least texture a portrait can have."""
    image = np.full((560, 560, 3), (240, 225, 200), np.uint8)
    cv2.ellipse(image, (280, 600), (210, 130), 0, 0, 360, (40, 60, 90), -1, cv2.LINE_AA)
    cv2.rectangle(image, (240, 350), (320, 480), (235, 190, 150), -1)
    cv2.ellipse(image, (280, 260), (125, 155), 0, 0, 360, (235, 190, 150), -1, cv2.LINE_AA)
    cv2.ellipse(image, (280, 170), (135, 85), 0, 180, 360, (90, 50, 30), -1, cv2.LINE_AA)
    for x in (232, 328):
        cv2.ellipse(image, (x, 245), (22, 13), 0, 0, 360, (255, 255, 255), -1, cv2.LINE_AA)
        cv2.circle(image, (x, 245), 9, (20, 40, 60), -1, cv2.LINE_AA)
    cv2.ellipse(image, (280, 345), (40, 14), 0, 0, 180, (170, 70, 70), -1, cv2.LINE_AA)
    return [image[20 + k // 5 : 532 + k // 5, 24:536].copy() for k in range(FPS)]


@pytest.mark.parametrize("codec", ["libx264", "libvpx"])
def test_a_flat_cartoon_is_found_after_a_low_rate_encode(codec: str) -> None:
    """Bug: on flat art the mark was lost after a 300 kbit/s call (40 fps): in the first seconds
    after H.264, and after VP8 in nearly every window. VP8 kept a tenth of the 1 grey-level mark
    on flat areas, its ring sat where the codec keeps least, and the cartoon's hard edges, left
    in by the detector's Gaussian high-pass, drowned it (round 2 here: z 4.2-4.4 at 60-200
    kbit/s). 200 kbit/s at 25 fps is 300 at 40 in bits per frame. x264 encodes the same bytes on
    any machine; VP8 in realtime mode does not, and round 3 measured z 12 here, twice the
    threshold."""
    frames = _drawn_cartoon()
    embedder = WatermarkEmbedder(PAYLOAD)
    (decoded,) = read_windows(encode([embedder.embed(f) for f in frames], codec, 200, FPS))
    _assert_found(detect_frames(decoded))
    (decoded_unmarked,) = read_windows(encode(frames, codec, 200, FPS))
    assert not detect_frames(decoded_unmarked).present


def test_the_mark_follows_the_content_after_the_first_frame(
    unmarked: list[NDArray[np.uint8]],
) -> None:
    """Bug: the mark was shaped by a stream's first frame alone, so texture that moved away for
    good (a head that turned or moved) left its strong mark on what had become flat. Within a
    second (RESHAPE_FRAMES) of the change, every strip of the map has been made again."""
    from engine.watermark.embed import RESHAPE_FRAMES

    embedder = WatermarkEmbedder(PAYLOAD)
    textured = unmarked[0]
    flat = np.full_like(textured, (236, 188, 160))
    for _ in range(RESHAPE_FRAMES):
        first = embedder.embed(textured).astype(np.float64) - textured
    for _ in range(RESHAPE_FRAMES):
        later = embedder.embed(flat).astype(np.float64) - flat
    assert np.sqrt(np.mean(first**2)) > 2.0
    assert np.sqrt(np.mean(later**2)) < 1.7


def test_the_map_made_a_strip_at_a_time_is_the_map_of_the_whole_frame(
    unmarked: list[NDArray[np.uint8]],
) -> None:
    """Bug: the map was made whole once a second on the worker thread, a 6-17 ms spike in a
    stream; it is now made one strip per frame, which must give the same map as the whole."""
    from engine.watermark.embed import STRIP_PX, STRIPS, texture_amplitude

    frame = unmarked[3]
    whole = texture_amplitude(frame)
    for strip in range(STRIPS):
        rows = slice(strip * STRIP_PX, (strip + 1) * STRIP_PX)
        np.testing.assert_array_equal(texture_amplitude(frame, rows), whole[rows])


def test_a_slightly_rotated_recording_is_found_and_an_unmarked_one_is_not(
    marked: list[NDArray[np.uint8]], unmarked: list[NDArray[np.uint8]]
) -> None:
    """Bug: a recording turned by a degree or two (a camera filming a screen) lost the mark: the
    detector searched scale and shift, not rotation."""
    turn = cv2.getRotationMatrix2D((256.0, 256.0), 2.0, 0.9)

    def rotated(frames: list[NDArray[np.uint8]]) -> list[NDArray[np.uint8]]:
        return [np.asarray(cv2.warpAffine(f, turn, (512, 512)), np.uint8) for f in frames]

    detection = detect_frames(rotated(marked))
    _assert_found(detection)
    assert abs(detection.rotation_deg + 2.0) < 0.2
    assert not detect_frames(rotated(unmarked)).present
