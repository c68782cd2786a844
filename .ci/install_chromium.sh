#!/usr/bin/env bash
# Installs Debian's chromium, the headless browser that tests/test_web_browser.py drives through
# Playwright (executable_path=/usr/bin/chromium; Playwright never downloads a browser here).
# Idempotent and quiet: exits 0 at once when chromium is already installed and runs.
set -euo pipefail
source "$(dirname "$0")/apt_packages.sh"

PACKAGES=(
    chromium
)

chromium_works() {
    local executable
    executable="$(command -v chromium || true)"
    [ -n "$executable" ] || executable=/usr/bin/chromium
    [ -x "$executable" ] && "$executable" --headless --no-sandbox --version >/dev/null 2>&1
}

if all_packages_installed && chromium_works; then
    exit 0
fi

install_packages "chromium"

if ! chromium_works; then
    echo "error: chromium installed but it does not run (chromium --headless --version failed)" >&2
    exit 1
fi
