"""Sessions on the shared engine: the engine, its scheduler, timelines and offline render."""
