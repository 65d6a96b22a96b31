"""Emotion that shows (issue 17): happy and sad at intensity 0.8 moved the mouth corners by only
0.018 inter-ocular distances apart, and a grinning portrait kept grinning when told to be sad."""

from __future__ import annotations

import numpy as np

from engine.motion.retarget import retarget
from models import motion_space as ms
from models.rig_calibration import FROWN_DROP_PER_UNIT, SMILE_LIFT_PER_UNIT

FIELD = ms.INDEX


def _corner_lift(motion: np.ndarray) -> np.ndarray:
    """(T,) mouth-corner lift in mouth widths as the rig draws smile and frown."""
    smile = 0.5 * (motion[:, FIELD["mouthSmileLeft"]] + motion[:, FIELD["mouthSmileRight"]])
    frown = 0.5 * (motion[:, FIELD["mouthFrownLeft"]] + motion[:, FIELD["mouthFrownRight"]])
    return SMILE_LIFT_PER_UNIT * smile - FROWN_DROP_PER_UNIT * frown


def _talking(frames: int = 50, smile: float = 0.0) -> np.ndarray:
    motion = np.tile(ms.neutral_frame(), (frames, 1))
    motion[:, FIELD["jawOpen"]] = 0.3 + 0.2 * np.sin(np.arange(frames) / 3.0)
    motion[:, FIELD["mouthSmileLeft"]] = motion[:, FIELD["mouthSmileRight"]] = smile
    return motion


def test_happy_and_sad_at_0_8_move_the_corners_apart_even_when_the_model_barely_did() -> None:
    grinning_portrait = ms.neutral_frame()
    grinning_portrait[FIELD["mouthSmileLeft"]] = grinning_portrait[FIELD["mouthSmileRight"]] = 0.9
    for portrait in (ms.neutral_frame(), grinning_portrait):
        # The model's own output for both: a faint smile (what a weak emotion control gives).
        happy = retarget(_talking(smile=0.1), portrait, "happy", 0.8)
        sad = retarget(_talking(smile=0.1), portrait, "sad", 0.8)
        difference_mw = float(np.mean(_corner_lift(happy) - _corner_lift(sad)))
        # A mouth is ~0.8 inter-ocular distances wide: 0.05 mouth widths = 0.04 IOD.
        assert difference_mw >= 0.05
        # Sad lowers the corners below a relaxed mouth, whatever the portrait's own smile.
        assert float(np.mean(_corner_lift(sad))) < 0.0
    # Speech is untouched: the jaw is the model's.
    np.testing.assert_array_equal(happy[:, FIELD["jawOpen"]], _talking()[:, FIELD["jawOpen"]])


def test_a_strong_model_emotion_is_kept_and_intensity_0_changes_nothing() -> None:
    portrait = ms.neutral_frame()
    model_happy = _talking(smile=0.9)
    shown = retarget(model_happy, portrait, "happy", 0.5)
    assert np.allclose(shown[:, FIELD["mouthSmileLeft"]], 0.9)  # above the floor: kept
    assert np.allclose(shown[:, FIELD["cheekSquintLeft"]], 0.5 * 0.45)  # raised to the floor
    neutral = retarget(_talking(smile=0.3), portrait, "sad", 0.0)
    np.testing.assert_array_equal(neutral, retarget(_talking(smile=0.3), portrait))
