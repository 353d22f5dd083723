"""Review and trust: lock diffs, SBOMs, bundle signatures."""
