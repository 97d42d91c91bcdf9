#!/usr/bin/env bash
# The optional PyTorch peer of `npm run bench:train` (Debian's PyTorch on OpenBLAS). Never part of npm install.
set -euo pipefail
if ! command -v apt-get >/dev/null; then
  echo "install-torch-peer: no apt-get here; install PyTorch for /usr/bin/python3 by other means" >&2
  exit 1
fi
apt-get install -y python3-torch libopenblas0-openmp
