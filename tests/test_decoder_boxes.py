"""The decoder's CPU fast path (warping only boxes round the moving person, the rest copied from
the portrait composited once per avatar) gives the frames the whole-frame pass gives."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import pytest
import torch

from engine.avatar.prepared import PreparedAvatar
from engine.render.renderer import AvatarRenderer, avatar_tensors
from models import motion_space as ms
from models.decoder import AVATAR_INPUTS, DecoderConfig, FaceDecoder


def _motions(avatar: PreparedAvatar) -> np.ndarray:
    """Still, speech-like, and the far corners of head motion (turns, shifts, scale) together
    with blinks and gaze: each moves a different part of the frame."""
    own = avatar.source_motion
    rng = np.random.default_rng(12)
    frames = [
        own,
        ms.with_fields(own, jawOpen=1.0, eyeBlinkLeft=1.0, eyeBlinkRight=1.0),
        ms.with_fields(own, eyeLookX=1.0, eyeLookY=-1.0),  # the eyes alone: no warp at all
        ms.with_fields(own, yaw=own[0] + 0.4, pitch=own[1] - 0.3, roll=own[2] + 0.3),
        ms.with_fields(own, yaw=own[0] - 0.4, tx=own[3] + 0.08, ty=own[4] - 0.08),
        ms.with_fields(own, jawOpen=0.6, tx=own[3] - 0.08, ty=own[4] + 0.08),
    ]
    frames[-2][ms.INDEX["scale"]] += 0.2
    frames[-1][ms.INDEX["scale"]] -= 0.2
    for _ in range(4):
        m = own.copy()
        m[:6] += rng.uniform(-0.2, 0.2, 6)
        m[ms.INDEX["jawOpen"]] = rng.uniform(0.0, 1.0)
        m[ms.INDEX["eyeBlinkLeft"]] = rng.uniform(0.0, 1.0)
        frames.append(m)
    return ms.clip(np.stack(frames).astype(np.float32))


@pytest.fixture
def boxes_seen() -> Iterator[list[list[tuple[int, int, int, int]]]]:
    """Every list of boxes the fast path warped, so a test can tell that it ran."""
    seen: list[list[tuple[int, int, int, int]]] = []
    original = FaceDecoder._moving_boxes

    def spy(self: FaceDecoder, *args: object) -> list[tuple[int, int, int, int]]:
        boxes = original(self, *args)  # type: ignore[arg-type]
        seen.append(boxes)
        return boxes

    FaceDecoder._moving_boxes = spy  # type: ignore[method-assign]
    yield seen
    FaceDecoder._moving_boxes = original  # type: ignore[method-assign]


def _assert_same_frames(got: np.ndarray, expected: np.ndarray) -> None:
    diff = np.abs(got.astype(int) - expected.astype(int))
    # A pixel outside the boxes may carry the person at alpha under a quarter level.
    assert diff.max() <= 1, f"max difference {diff.max()} levels"
    assert (diff > 0).mean() < 1e-4, f"{(diff > 0).mean():.2e} of the values differ"


@pytest.mark.parametrize("portrait", ["astronaut.png", "mona_lisa.jpg"])
def test_moving_boxes_give_the_whole_frame(
    portrait: str,
    prepared_avatar: Callable[[str], PreparedAvatar],
    boxes_seen: list[list[tuple[int, int, int, int]]],
) -> None:
    """Regression guard for the fast path: a box that missed a moving pixel would leave a
    patch of the unmoved portrait (a stale ear, a cut-off chin) in the frame."""
    avatar = prepared_avatar(portrait)
    motions = _motions(avatar)
    whole = AvatarRenderer(avatar, decoder=FaceDecoder(DecoderConfig(moving_boxes=False)))
    fast = AvatarRenderer(avatar, decoder=FaceDecoder(DecoderConfig(moving_boxes=True)))
    expected = whole.render(motions)
    assert not boxes_seen, "the whole-frame pass must not take the fast path"
    _assert_same_frames(fast.render(motions), expected)  # one batch: the union of its boxes
    for motion, frame in zip(motions, expected, strict=True):
        _assert_same_frames(fast.render(motion), frame[None])
    covered = [sum((b[1] - b[0]) * (b[3] - b[2]) for b in boxes) for boxes in boxes_seen]
    assert len(covered) == len(motions) + 1 and max(covered) < 512 * 512, covered


def test_one_decoder_keeps_each_avatars_still_frame(
    prepared_avatar: Callable[[str], PreparedAvatar],
) -> None:
    """One decoder module rendering two avatars in turn (as renderers sharing a decoder do)
    must copy each avatar's own unmoved frame, not the first one it saw."""
    first = avatar_tensors(prepared_avatar("astronaut.png"))
    second = dict(first)  # the same rig over another picture: a negative of the portrait
    planes = first["source_planes"].clone()
    planes[:, :3] = 256.0 - planes[:, :3]  # rgb values carry +0.5
    second["source_planes"] = planes
    second["background"] = 255.0 - first["background"]
    own = torch.from_numpy(prepared_avatar("astronaut.png").source_motion)[None]
    motion = own.clone()
    motion[0, ms.INDEX["jawOpen"]] = 0.7
    motion[0, 0] += 0.2
    decoder = FaceDecoder(DecoderConfig(moving_boxes=True))
    whole = FaceDecoder(DecoderConfig(moving_boxes=False))
    with torch.inference_mode():
        for avatar in (first, second, first, second):
            inputs = [avatar[name] for name in AVATAR_INPUTS]
            got, expected = decoder(motion, *inputs), whole(motion, *inputs)
            _assert_same_frames(got.numpy(), expected.numpy())
    assert not np.array_equal(
        decoder(motion, *[first[n] for n in AVATAR_INPUTS]).numpy(),
        decoder(motion, *[second[n] for n in AVATAR_INPUTS]).numpy(),
    )
