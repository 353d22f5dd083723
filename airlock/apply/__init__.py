"""Reserved for a later issue (see docs/roadmap.md)."""
