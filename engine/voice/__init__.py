"""Built-in text-to-speech: Piper's neural voice (espeak-ng where Piper is missing), 16 kHz out."""
