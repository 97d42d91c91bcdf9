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
tar -C . -cf - --exclude='node_modules/typescript' --exclude='node_modules/@types' --exclude='node_modules/@node-llama-cpp' \
  --exclude='node_modules/.cache' node_modules gpu | tar -C "$stage" -xf -
tar -C "$stage" -cf - bin node_modules gpu | xz -T0 -6 > .device/bundle.tar.xz
size=$(stat -c %s .device/bundle.tar.xz)
echo "device-bundle: .device/bundle.tar.xz, $((size / 1048576)) MiB (a run carries 64 MiB in all)"
[ "$size" -lt $((56 * 1048576)) ] || { echo "device-bundle: too large to carry beside the repository" >&2; exit 1; }
