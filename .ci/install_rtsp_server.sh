#!/usr/bin/env bash
# Installs the GStreamer RTSP server that tests/test_live_sources.py runs as a real camera.
# The bindings belong to the system interpreter (/usr/bin/python3), not to the project's virtualenv.
# Idempotent and quiet: exits 0 at once when /usr/bin/python3 can already import them.
set -euo pipefail
source "$(dirname "$0")/apt_packages.sh"

PACKAGES=(
    python3-gi
    gir1.2-gst-rtsp-server-1.0
    gstreamer1.0-plugins-base
    gstreamer1.0-plugins-good
    gstreamer1.0-plugins-ugly
    gstreamer1.0-rtsp
    gstreamer1.0-libav
)

bindings_present() {
    /usr/bin/python3 - <<'PYTHON' >/dev/null 2>&1
import gi
gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import Gst, GstRtspServer
Gst.init(None)
for element in ("x264enc", "rtph264pay", "decodebin", "videoconvert", "filesrc"):
    assert Gst.ElementFactory.find(element) is not None, element
PYTHON
}

if [ -x /usr/bin/python3 ] && all_packages_installed && bindings_present; then
    exit 0
fi

install_packages "the GStreamer RTSP server packages"

if ! bindings_present; then
    echo "error: GStreamer RTSP server packages installed but /usr/bin/python3 cannot use them" >&2
    exit 1
fi
