"""Draw a flat-shaded anime-style portrait for local evaluation of the face (issue 12): big eyes
with highlights, a small mouth, flat shading and thick outlines, made here, so no licence question.

    PYTHONPATH=$PWD python scripts/draw_anime_portrait.py    # -> out/portraits/anime_drawn.png

scripts/face_eval.py finds it there (`... face_eval.py TAG anime_drawn.png`); the drawing itself
is tests/drawn_portrait.py, which tests/test_drawn_eye.py draws too.
"""

from pathlib import Path

from tests.drawn_portrait import draw_anime_portrait

OUT = Path(__file__).resolve().parent.parent / "out" / "portraits" / "anime_drawn.png"
OUT.parent.mkdir(parents=True, exist_ok=True)
draw_anime_portrait().save(OUT)
print(f"wrote {OUT}")
