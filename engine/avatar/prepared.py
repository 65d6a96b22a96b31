"""A prepared avatar: everything the decoder needs about one portrait, saved as one versioned file.

Preparation (engine.avatar.prepare) happens once per portrait; sessions load the file and reuse it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from engine.errors import AvatarError
from models import motion_space

# 7: both of 6's changes (the eyes' and the mouth's, merged); 6: eye_geometry (2, 17), the eyes
# as drawn in stylised art, and the lip seam nearer the lower lip as far as the portrait shows
# its upper teeth, mouth (4,) with mouth[3] how flat the art is, the teeth colour the
# portrait's own where shown; 5: the lip seam ends at the outer mouth corners; 4: eye_geometry,
# a (9, 3) palette and mouth[2] (teeth shown)
AVATAR_FORMAT_VERSION = 7
CROP_SIZE_PX = 512
_RIG_PREFIX = "rig__"


@dataclass(frozen=True, eq=False)
class PreparedAvatar:
    image: NDArray[np.uint8]  # (512, 512, 3) uint8 RGB, the aligned crop
    landmarks_px: NDArray[
        np.float32
    ]  # (478, 3) float32: x, y in crop pixels, z = MediaPipe depth * 512
    source_motion: NDArray[
        np.float32
    ]  # (MOTION_DIM,) float32: the portrait's own pose and expression
    person_alpha: NDArray[np.float32]  # (512, 512) float32 in [0, 1]: 1 = person, 0 = background
    background: NDArray[np.uint8]  # (512, 512, 3) uint8 RGB: the scene with the person removed
    rig: dict[str, NDArray[np.generic]]  # decoder precompute, see models.face_rig.build_rig
    meta: dict[str, Any] = field(default_factory=dict)  # source name, sha256, crop box, ...

    def save(self, path: Path) -> None:
        arrays: dict[str, NDArray[np.generic]] = {
            "image": self.image,
            "landmarks_px": self.landmarks_px,
            "source_motion": self.source_motion,
            "person_alpha": self.person_alpha,
            "background": self.background,
        }
        arrays.update({_RIG_PREFIX + k: v for k, v in self.rig.items()})
        header = {
            "avatar_format_version": AVATAR_FORMAT_VERSION,
            "motion_space_version": motion_space.MOTION_SPACE_VERSION,
            "meta": self.meta,
        }
        tmp = Path(str(path) + ".tmp.npz")
        np.savez_compressed(tmp, header=np.array(json.dumps(header)), **arrays)
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path) -> PreparedAvatar:
        try:
            with np.load(path, allow_pickle=False) as data:
                header = json.loads(str(data["header"]))
                arrays = {k: data[k] for k in data.files if k != "header"}
        except (OSError, ValueError, KeyError) as exc:
            raise AvatarError(
                f"{path}: not a prepared avatar file ({exc})", "bad_avatar_file"
            ) from exc
        for key, expected in (
            ("avatar_format_version", AVATAR_FORMAT_VERSION),
            ("motion_space_version", motion_space.MOTION_SPACE_VERSION),
        ):
            if header.get(key) != expected:
                raise AvatarError(
                    f"{path}: {key} is {header.get(key)}, this build reads {expected}; "
                    "prepare the portrait again",
                    "bad_avatar_file",
                )
        rig = {k[len(_RIG_PREFIX) :]: v for k, v in arrays.items() if k.startswith(_RIG_PREFIX)}
        return cls(
            image=arrays["image"],
            landmarks_px=arrays["landmarks_px"],
            source_motion=arrays["source_motion"],
            person_alpha=arrays["person_alpha"],
            background=arrays["background"],
            rig=rig,
            meta=header["meta"],
        )
