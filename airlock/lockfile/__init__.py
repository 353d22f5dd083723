"""airlock.lock: model, versioned reader, canonical writer, generated JSON schema."""

from airlock.errors import LockError
from airlock.lockfile.model import (
                                    LOCK_VERSION,
                                    DebIndexPin,
                                    DebPin,
                                    FilePin,
                                    ImagePin,
                                    Inputs,
                                    KubesprayPin,
                                    Lock,
                                    PlatformPin,
                                    RpmPin,
                                    WheelPin,
)
from airlock.lockfile.reader import parse_lock, read_lock
from airlock.lockfile.writer import dumps, write_lock

__all__ = ["LOCK_VERSION", "DebIndexPin", "DebPin", "RpmPin", "WheelPin", "FilePin", "ImagePin", "Inputs", "KubesprayPin", "Lock", "LockError",
           "PlatformPin", "dumps", "parse_lock", "read_lock", "write_lock"]
