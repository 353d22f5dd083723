#!/usr/bin/env bash
# Install the real servers and clients the integration tests and the demo start, when missing:
# Debian's docker-registry, skopeo, nginx, htpasswd (apache2-utils), openssl, containerd (ctr),
# rpm (rpmbuild, rpmsign), dnf, gpg and gpgv (signed fixture repositories, Release checks), dpkg-dev (dpkg-scanpackages), openssh-client (ssh-keygen), mmdebstrap, podman and curl;
# then airlock.
set -euo pipefail
cd "$(dirname "$0")/.."
need=()
for bin in docker-registry skopeo nginx htpasswd openssl containerd ctr rpmbuild rpmsign dnf dpkg-scanpackages apt-get ssh-keygen mmdebstrap podman curl gpg gpgv unshare; do
  command -v "$bin" >/dev/null 2>&1 || [ -x "/usr/sbin/$bin" ] || need+=("$bin")
done
if [ ${#need[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
    docker-registry skopeo nginx-light apache2-utils openssl containerd rpm dnf dpkg-dev apt openssh-client mmdebstrap podman curl gpg gpgv util-linux >/dev/null
fi
# The distribution was once named `airlock` (a name another project holds on PyPI): drop such an
# install so that only this checkout provides the package.
if python3 -m pip show -q airlock >/dev/null 2>&1; then python3 -m pip uninstall -y -q airlock; fi
python3 -m pip install -q -e '.[test]'
