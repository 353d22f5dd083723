"""airlock.yaml: the model users edit and its loader."""

from airlock.manifest.loader import LoadedManifest, load_manifest
from airlock.manifest.model import ExtraFile, KubesprayRef, Manifest, PythonSpec

__all__ = ["ExtraFile", "KubesprayRef", "LoadedManifest", "Manifest", "PythonSpec", "load_manifest"]
