#!/usr/bin/env bash
# Builds the native parts of pad-cli: today only native/lazyfs, the FUSE layer that lets
# power-cut tests drop writes that were never fsynced. The broker itself needs none of this,
# so when the system libraries cannot be installed (not root, no apt-get) we say what to
# install and exit 0 rather than fail an ordinary install.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! pkg-config --exists fuse3 2>/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    packages=(fuse3 libfuse3-dev pkg-config)
    # Try without `apt-get update` first: it is slow, and the package lists are usually there.
    if ! apt-get install -y --no-install-recommends "${packages[@]}"; then
      apt-get update
      apt-get install -y --no-install-recommends "${packages[@]}"
    fi
  else
    echo "install-native: skipped native/lazyfs (power-cut tests need it): install fuse3, libfuse3-dev, pkg-config, gcc and make (as root: apt-get install fuse3 libfuse3-dev pkg-config gcc make), then run: npm run build:native"
    exit 0
  fi
fi

make -C native/lazyfs
