#!/usr/bin/env bash
# Installs Debian's chromium, the headless browser that tests/test_web_browser.py drives through
# Playwright (executable_path=/usr/bin/chromium; Playwright never downloads a browser here).
# Idempotent and quiet: exits 0 at once when chromium is already installed and runs.
set -euo pipefail

PACKAGES=(
    chromium
)

chromium_works() {
    local executable
    executable="$(command -v chromium || true)"
    [ -n "$executable" ] || executable=/usr/bin/chromium
    [ -x "$executable" ] && "$executable" --headless --no-sandbox --version >/dev/null 2>&1
}

all_packages_installed() {
    local package
    for package in "${PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || return 1
    done
}

if all_packages_installed && chromium_works; then
    exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi

export DEBIAN_FRONTEND=noninteractive
LOG="$(mktemp)"
trap 'rm -f "$LOG"' EXIT
# Output is kept in a log and shown only when apt-get fails.
if ! { $SUDO apt-get update -qq && $SUDO apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}"; } >"$LOG" 2>&1; then
    cat "$LOG" >&2
    echo "error: apt-get could not install chromium" >&2
    exit 1
fi

if ! chromium_works; then
    echo "error: chromium installed but it does not run (chromium --headless --version failed)" >&2
    exit 1
fi
