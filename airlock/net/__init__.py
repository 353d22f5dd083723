"""HTTP and registry clients; nothing else in airlock opens connections."""
