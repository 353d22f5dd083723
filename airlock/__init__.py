"""airlock: reproducible air-gapped Kubespray installs from a lockfile."""

__version__ = "0.1.0"
