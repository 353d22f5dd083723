"""The bundle: bundle.json model, deterministic tar writing/reading, verification and inspection."""
