"""Where a command's avatar comes from: a prepared avatar file, a portrait image, or the default."""

from __future__ import annotations

from pathlib import Path

from engine.avatar.prepared import PreparedAvatar
from engine.errors import AvatarError

ASSETS_DIR = Path(__file__).resolve().parents[1] / "assets"
DEFAULT_PORTRAIT = ASSETS_DIR / "astronaut.png"
AVATAR_SUFFIX = ".avatar.npz"


def load_avatar(source: Path | None = None) -> PreparedAvatar:
    """A prepared avatar from `source`: a `.avatar.npz` file, an image, or None (the default)."""
    path = DEFAULT_PORTRAIT if source is None else Path(source)
    if not path.is_file():
        raise AvatarError(f"{path}: no such file", "not_found")
    if path.name.endswith(AVATAR_SUFFIX):
        return PreparedAvatar.load(path)
    from engine.avatar.prepare import prepare_avatar  # mediapipe loads only when preparing

    return prepare_avatar(path)
