"""Head rotation in the motion-space convention (see models/motion_space.py).

R = R_roll @ R_pitch @ R_yaw maps canonical (frontal) head coordinates to image coordinates
(x right, y down, z away from the camera). Written once for numpy and once for torch (exportable).
"""

from __future__ import annotations

import math

import numpy as np
import torch


def rotation_matrix(yaw: float, pitch: float, roll: float) -> np.ndarray:
    cy, sy = math.cos(yaw), math.sin(yaw)
    cp, sp = math.cos(pitch), math.sin(pitch)
    cr, sr = math.cos(roll), math.sin(roll)
    r_yaw = np.array([[cy, 0, -sy], [0, 1, 0], [sy, 0, cy]])
    r_pitch = np.array([[1, 0, 0], [0, cp, -sp], [0, sp, cp]])
    r_roll = np.array([[cr, -sr, 0], [sr, cr, 0], [0, 0, 1]])
    return r_roll @ r_pitch @ r_yaw


def euler_from_matrix(rotation: np.ndarray) -> tuple[float, float, float]:
    """Inverse of rotation_matrix: (yaw, pitch, roll) in radians."""
    pitch = math.asin(float(np.clip(rotation[2, 1], -1.0, 1.0)))
    yaw = math.atan2(float(rotation[2, 0]), float(rotation[2, 2]))
    roll = math.atan2(float(-rotation[0, 1]), float(rotation[1, 1]))
    return yaw, pitch, roll


def rotation_matrix_torch(
    yaw: torch.Tensor, pitch: torch.Tensor, roll: torch.Tensor
) -> torch.Tensor:
    """Batched rotation matrices: (B,) angles -> (B, 3, 3)."""
    cy, sy = torch.cos(yaw), torch.sin(yaw)  # (B,)
    cp, sp = torch.cos(pitch), torch.sin(pitch)
    cr, sr = torch.cos(roll), torch.sin(roll)
    # Closed form of R_roll @ R_pitch @ R_yaw, row by row.
    row0 = torch.stack([cr * cy + sr * sp * sy, -sr * cp, -cr * sy + sr * sp * cy], dim=-1)
    row1 = torch.stack([sr * cy - cr * sp * sy, cr * cp, -sr * sy - cr * sp * cy], dim=-1)
    row2 = torch.stack([cp * sy, sp, cp * cy], dim=-1)
    return torch.stack([row0, row1, row2], dim=-2)  # (B, 3, 3)
