#!/usr/bin/env bash
# Packs what grpo-ts needs at run time for a lent GPU machine that has no Node.js and reaches no registry, within
# the 64 MiB a run may carry: the node binary, the run-time node_modules (no TypeScript compiler, no type
# declarations, no CPU-only ggml: the Vulkan build carries the CPU backends too) and the Vulkan build of ggml,
# xz-compressed into .device/bundle.tar.xz (about 45 MB). scripts/device-check.sh unpacks and runs it there.
#   npm run install:vulkan && scripts/device-bundle.sh
set -euo pipefail
cd "$(dirname "$0")/.."
vulkan=gpu/node_modules/@node-llama-cpp/linux-x64-vulkan
[ -d "$vulkan" ] || { echo "device-bundle: no Vulkan build in gpu/; run npm run install:vulkan first" >&2; exit 1; }
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/bin" .device
cp "$(command -v node)" "$stage/bin/node"
# anchored: gpu/node_modules/@node-llama-cpp (the Vulkan build itself) stays
tar -C . -cf - --anchored --exclude='node_modules/typescript' --exclude='node_modules/@types' --exclude='node_modules/@node-llama-cpp' \
  --exclude='node_modules/.cache' node_modules gpu | tar -C "$stage" -xf -
tar -C "$stage" -cf - bin node_modules gpu | xz -T0 -6 > .device/bundle.tar.xz
# the Vulkan loader, which the GPU machines' image may lack (unpacked there by device-check.sh)
if command -v apt-get >/dev/null && [ ! -e .gl/libvulkan1.deb ]; then
  mkdir -p .gl /tmp/grpo-apt-amd64/partial
  o='-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/grpo-apt-amd64'
  (apt-get $o update -qq && cd .gl && apt-get $o download -qq libvulkan1 && mv libvulkan1_*.deb libvulkan1.deb) >/dev/null 2>&1 \
    || echo "device-bundle: could not download libvulkan1 into .gl/ (the device check then needs the machine's own loader)"
fi
size=$(stat -c %s .device/bundle.tar.xz)
echo "device-bundle: .device/bundle.tar.xz, $((size / 1048576)) MiB (a run carries 64 MiB in all)"
[ "$size" -lt $((56 * 1048576)) ] || { echo "device-bundle: too large to carry beside the repository" >&2; exit 1; }
