"""Where a command's avatar comes from: a prepared avatar file, a portrait image, or the default.

The default portrait ships prepared beside itself (engine/assets/astronaut.avatar.npz, remade by
`gioconda prepare engine/assets/astronaut.png -o engine/assets/astronaut.avatar.npz` whenever the
avatar format changes): an environment without mediapipe (Pipecat, LiveKit) still has an avatar.
"""

from __future__ import annotations

from pathlib import Path

from engine.avatar.prepared import PreparedAvatar
from engine.errors import AvatarError

ASSETS_DIR = Path(__file__).resolve().parents[1] / "assets"
DEFAULT_PORTRAIT = ASSETS_DIR / "astronaut.png"
AVATAR_SUFFIX = ".avatar.npz"


def shipped_avatar(portrait: Path) -> PreparedAvatar | None:
    """The prepared copy that ships beside a bundled portrait, where it exists and this build
    reads its format; None otherwise (the portrait is then prepared, which needs mediapipe)."""
    prepared = portrait.with_name(portrait.stem + AVATAR_SUFFIX)
    if not prepared.is_file():
        return None
    try:
        return PreparedAvatar.load(prepared)
    except AvatarError:
        return None  # made by another avatar format: prepare the portrait instead


def load_avatar(source: Path | None = None) -> PreparedAvatar:
    """A prepared avatar from `source`: a `.avatar.npz` file, an image, or None (the default)."""
    path = DEFAULT_PORTRAIT if source is None else Path(source)
    if path.resolve().parent == ASSETS_DIR:  # a bundled portrait: its prepared copy, if shipped
        shipped = shipped_avatar(path)
        if shipped is not None:
            return shipped
    if not path.is_file():
        raise AvatarError(f"{path}: no such file", "not_found")
    if path.name.endswith(AVATAR_SUFFIX):
        return PreparedAvatar.load(path)
    from engine.avatar.prepare import prepare_avatar  # mediapipe loads only when preparing

    return prepare_avatar(path)
