#!/usr/bin/env bash
# Shared by the .ci/install_*.sh scripts (sourced, not run): is every Debian package of PACKAGES
# installed, and install them quietly (apt-get's output is shown only when it fails).

all_packages_installed() {
    local package
    for package in "${PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || return 1
    done
}

# install_packages WHAT: apt-get install PACKAGES (with sudo when not root); on failure, apt-get's
# log and "error: apt-get could not install WHAT", exit 1.
install_packages() {
    local what="$1" sudo="" log
    if [ "$(id -u)" -ne 0 ]; then
        sudo="sudo"
    fi
    log="$(mktemp)"
    if ! { DEBIAN_FRONTEND=noninteractive $sudo apt-get update -qq \
        && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}"; } \
        >"$log" 2>&1; then
        cat "$log" >&2
        rm -f "$log"
        echo "error: apt-get could not install $what" >&2
        exit 1
    fi
    rm -f "$log"
}
