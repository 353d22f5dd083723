"""The admin host's bootstrap: airlock's own runtime, carried in bundle.tar's ``bootstrap/`` folder."""
