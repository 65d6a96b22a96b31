"""Runtime: avatar preparation, streaming, rendering orchestration. Imports models, never server."""
