"""The avatar store: built-ins listed first and prepared once, uploads stored with their consent,
everything still there for a new store on the same folder, clear errors for the rest."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from engine.avatar.store import BUILTINS, AvatarStore
from engine.errors import AvatarError

ASSETS = Path(__file__).resolve().parents[1] / "engine" / "assets"
SMALL = ASSETS / "mona_lisa_197px.jpg"


def test_builtins_come_first_and_are_prepared_once(tmp_path: Path) -> None:
    store = AvatarStore(tmp_path)
    records = store.list()
    assert [r.id for r in records] == list(BUILTINS)
    assert records[0].id == "astronaut" and all(r.builtin for r in records)
    avatar = store.load("mona-lisa-small")
    assert avatar.image.shape == (512, 512, 3)
    assert store.load("mona-lisa-small") is avatar  # cached in memory
    assert (tmp_path / "builtin" / "mona-lisa-small.avatar.npz").is_file()  # and on disk
    assert store.resolve("default") == "astronaut"
    assert store.preview_png("mona-lisa-small").startswith(b"\x89PNG")


def test_upload_survives_a_new_store_and_can_be_deleted(tmp_path: Path) -> None:
    record = AvatarStore(tmp_path).add(SMALL.read_bytes(), name="small", consent="mine")
    reopened = AvatarStore(tmp_path)
    assert reopened.get(record.id) == record
    assert record.consent == "mine" and record.source_width == 197 and record.sha256
    assert [r.id for r in reopened.list()][-1] == record.id
    loaded = reopened.load(record.id)
    assert np.array_equal(loaded.image, AvatarStore(tmp_path).load(record.id).image)
    reopened.delete(record.id)
    with pytest.raises(AvatarError) as missing:
        reopened.get(record.id)
    assert missing.value.reason == "not_found"
    assert not list((tmp_path / "avatars").iterdir())


@pytest.mark.parametrize(
    ("action", "reason"),
    [
        (lambda s: s.add(SMALL.read_bytes(), name="x", consent="  "), "consent_required"),
        (lambda s: s.add(b"GIF89a....", name="x", consent="ok"), "unsupported_format"),
        (lambda s: s.add(b"\x00" * 2_000, name="x", consent="ok"), "too_many_bytes"),
        (lambda s: s.delete("astronaut"), "builtin"),
        (lambda s: s.load("../../etc/passwd"), "not_found"),
        (lambda s: s.get("av_000000000000"), "not_found"),
    ],
)
def test_refusals_carry_a_reason(
    tmp_path: Path, action: Callable[[AvatarStore], object], reason: str
) -> None:
    store = AvatarStore(tmp_path, max_bytes=1_000)
    with pytest.raises(AvatarError) as refused:
        action(store)
    assert refused.value.reason == reason
