#!/usr/bin/env bash
# Debian packages the tests need: WordNet for METEOR (eval/wordnet.py turns it into NLTK data) and
# Chromium + ChromeDriver for the Space's browser test. A no-op where they are installed already.
# Pass package names to install others instead.
set -euo pipefail
packages=("$@")
if [ ${#packages[@]} -eq 0 ]; then
  packages=(wordnet-base wordnet-sense-index chromium chromium-driver)
fi
need=()
for pkg in "${packages[@]}"; do dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg"); done
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi
