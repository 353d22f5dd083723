"""A reusable offline test world: real docker-registry, nginx file server, generated images and files.

Importable by tests, benchmarks and the demo. Only 127.0.0.1 is ever used.
"""
