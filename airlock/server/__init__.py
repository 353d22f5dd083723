"""The embedded site server (static files and a read-only OCI registry)."""
