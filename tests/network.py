"""A free TCP port on the loopback interface, for the tests that start a server."""

from __future__ import annotations

import socket


def free_port() -> int:
    """A port nobody listens on now (the system's choice; a race with another process is possible but rare)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
