#!/usr/bin/env bash
# The GPU checks of issue 15, sized for a lent machine's few minutes: unpacks .device/bundle.tar.xz (made by
# scripts/device-bundle.sh) and the Vulkan loader (.gl/*.deb, when carried), then runs the device suite on the GPU
# through Vulkan, and bench:train / bench:generate on the GPU beside its CPU, grpo-ts alone (the peers need the
# registry). Everything it prints also goes to $OUT/device-check.log when $OUT is set.
#   run(command: "bash scripts/device-check.sh", carry: [".device", ".gl"], timeout_s: 580): at most ~9 minutes
set -uo pipefail
cd "$(dirname "$0")/.."
log=${OUT:-/tmp}/device-check.log
exec > >(tee "$log") 2>&1
for f in .gl/*.deb; do [ -e "$f" ] && dpkg -x "$f" /; done
ldconfig 2>/dev/null || true
[ -f /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json ] && export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
root=/tmp/grpo-device
mkdir -p "$root" && tar -C "$root" -xJf .device/bundle.tar.xz || { echo "device-check: no .device/bundle.tar.xz (scripts/device-bundle.sh, then carry .device)"; exit 1; }
export PATH="$root/bin:$PATH"
ln -sfn "$root/node_modules" node_modules
ln -sfn "$root/gpu" gpu
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null
node --version
node --import tsx src/cli/main.ts doctor --device vulkan || exit 1
echo "== device suite on vulkan"
GRPO_DEVICE=vulkan timeout 120 node scripts/run-tests.mjs test-device 2>&1 | grep -E '^(not )?ok|^# (pass|fail)|off by|CPU .* vulkan'
echo "== bench:train, GPU then CPU (grpo-ts alone)"
for d in vulkan cpu; do timeout 120 node --import tsx bench/train.ts --device "$d" --no-peer --precision f32 --configs reference,21m,qwen0.5b 2>&1 | grep -E 'device|ms/step'; done
echo "== bench:generate, GPU then CPU"
for d in vulkan cpu; do timeout 80 node --import tsx bench/generate.ts --device "$d" --no-peer --tokens 64 2>&1 | grep -vE '^\s*$'; done
