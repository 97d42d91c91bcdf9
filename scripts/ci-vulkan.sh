#!/usr/bin/env bash
# The GPU code path without a GPU: Mesa's software Vulkan device (lavapipe) runs the device suite
# (npm run test:device). Mesa 22.3 (Debian 12's own) corrupts its heap under ggml's Vulkan backend, so on Debian 12
# this takes Mesa from bookworm-backports (25.x); newer Debians ship a good one. Where nothing can be installed
# (no apt, not root), it says so and the suite is skipped; once installed, a failing suite fails.
set -uo pipefail
cd "$(dirname "$0")/.."
skip() { echo "device suite skipped: $1"; exit 0; }
mesa_major() { dpkg-query -W -f='${Version}' mesa-vulkan-drivers 2>/dev/null | cut -d. -f1; }
if [ "$(mesa_major)" = "" ] || [ "$(mesa_major)" -lt 24 ]; then
  command -v apt-get >/dev/null && [ "$(id -u)" = 0 ] || skip "Mesa's Vulkan driver ≥ 24 is not installed and cannot be (apt-get as root)"
  export DEBIAN_FRONTEND=noninteractive
  if grep -q '^VERSION_CODENAME=bookworm' /etc/os-release; then
    echo "deb http://deb.debian.org/debian bookworm-backports main" > /etc/apt/sources.list.d/grpo-bookworm-backports.list
    target=(-t bookworm-backports)
  else
    target=()
  fi
  (apt-get update -qq && apt-get install -y -qq "${target[@]}" mesa-vulkan-drivers libvulkan1 >/dev/null) || skip "apt-get could not install mesa-vulkan-drivers"
  [ "$(mesa_major)" -ge 24 ] 2>/dev/null || skip "only Mesa $(mesa_major) is available; lavapipe before 24 crashes"
fi
npm run install:vulkan || skip "the Vulkan build of ggml could not be installed"
GGML_VK_VISIBLE_DEVICES=0 npm run test:device
