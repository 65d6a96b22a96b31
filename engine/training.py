"""Data and training entry points for the CLI: the server layer reaches models only through here."""

from __future__ import annotations

from models.synth.corpus import synthesize_corpus

__all__ = ["synthesize_corpus"]
