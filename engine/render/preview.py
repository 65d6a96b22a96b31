"""Preview images of an avatar: one frame with chosen motion fields, or a labelled contact sheet."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageDraw, ImageFont

from engine.avatar.prepared import PreparedAvatar
from engine.render.renderer import AvatarRenderer
from models import motion_space as ms

TILE_PX = 256
LABEL_PX = 18
COLUMNS = 8


def parse_settings(pairs: list[str]) -> dict[str, float]:
    """["jawOpen=1", "yaw=0.3"] -> {"jawOpen": 1.0, "yaw": 0.3}; unknown names are an error."""
    settings: dict[str, float] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep:
            raise ValueError(f"--set expects NAME=VALUE, got {pair!r}")
        ms.field(name.strip())  # raises with the list of known fields
        try:
            settings[name.strip()] = float(value)
        except ValueError:
            raise ValueError(f"--set {name}: {value!r} is not a number") from None
    return settings


def render_with(avatar: PreparedAvatar, settings: dict[str, float]) -> NDArray[np.uint8]:
    """One 512x512 frame: the portrait's own motion with the named fields set."""
    motion = ms.with_fields(avatar.source_motion, **settings)
    frame: NDArray[np.uint8] = AvatarRenderer(avatar).render(motion)[0]
    return frame


def sheet_entries(avatar: PreparedAvatar) -> list[tuple[str, NDArray[np.float32]]]:
    """(label, motion) for the portrait, then every field at its low and high extreme."""
    entries = [("portrait (own motion)", avatar.source_motion)]
    for f in ms.FIELDS:
        for value in (f.low, f.high):
            entries.append(
                (f"{f.name}={value:g}", ms.with_fields(avatar.source_motion, **{f.name: value}))
            )
    return entries


def contact_sheet(avatar: PreparedAvatar, batch: int = 8) -> NDArray[np.uint8]:
    entries = sheet_entries(avatar)
    renderer = AvatarRenderer(avatar)
    motions = np.stack([motion for _, motion in entries])
    frames = np.concatenate(
        [renderer.render(motions[i : i + batch]) for i in range(0, len(motions), batch)]
    )
    rows = -(-len(entries) // COLUMNS)
    sheet = Image.new("RGB", (COLUMNS * TILE_PX, rows * (TILE_PX + LABEL_PX)), "white")
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.load_default()
    for i, ((label, _), frame) in enumerate(zip(entries, frames, strict=True)):
        x, y = (i % COLUMNS) * TILE_PX, (i // COLUMNS) * (TILE_PX + LABEL_PX)
        sheet.paste(
            Image.fromarray(frame).resize((TILE_PX, TILE_PX), Image.Resampling.BILINEAR),
            (x, y + LABEL_PX),
        )
        draw.text((x + 4, y + 3), label, fill="black", font=font)
    return np.asarray(sheet)
