"""A throwaway OpenPGP key for signed fixture repositories: gpg in a temporary GNUPGHOME, no passphrase;
rpmsign signs RPMs with it, gpg clearsigns Debian Release files (InRelease)."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path


class ThrowawayKey:
    def __init__(self, name: str = "airlock fixture signing key", algo: str = "rsa3072") -> None:
        # rsa3072 by default: what archives and rpmsign use. ed25519 is generated in milliseconds (RSA takes
        # about a second): for tests of what airlock does with a key, not of which algorithm signs.
        # A short path: gpg-agent's socket lives in the home directory.
        self.home = Path(tempfile.mkdtemp(prefix="gpg-"))
        self.home.chmod(0o700)
        self._gpg("--quick-generate-key", name, algo, "sign", "never")
        cols = self._gpg("--with-colons", "--list-secret-keys").decode()
        self.fingerprint = next(line.split(":")[9] for line in cols.splitlines() if line.startswith("fpr:"))

    def _gpg(self, *args: str, data: bytes | None = None) -> bytes:
        return subprocess.run(["gpg", "--batch", "--no-tty", "--homedir", str(self.home), "--pinentry-mode",
                               "loopback", "--passphrase", "", *args], input=data, capture_output=True,
                              check=True).stdout

    def public_armored(self) -> bytes:
        return self._gpg("--armor", "--export", self.fingerprint)

    def clearsign(self, text: bytes) -> bytes:
        return self._gpg("--local-user", self.fingerprint, "--digest-algo", "SHA512", "--clearsign", data=text)

    def rpmsign(self, rpms: list[Path]) -> None:
        if rpms:
            subprocess.run(["rpmsign", "--addsign", "--define", f"_gpg_name {self.fingerprint}", "--define",
                            f"_gpg_path {self.home}", "--define", f"__gpg {shutil.which('gpg')}",
                            *map(str, rpms)], check=True, capture_output=True, stdin=subprocess.DEVNULL)

    def close(self) -> None:
        subprocess.run(["gpgconf", "--homedir", str(self.home), "--kill", "all"], capture_output=True, check=False)
        shutil.rmtree(self.home, ignore_errors=True)
