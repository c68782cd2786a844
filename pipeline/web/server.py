"""Serving the web app with uvicorn: checked bind address and token, in the foreground (a finished
run) or on a background thread (beside a running pipeline)."""

from __future__ import annotations

import ipaddress
import socket
import threading

from reid.errors import UserError
from reid.log_levels import say

LOOPBACK_NAMES = {"localhost"}


def is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_bind(host: str, port: int, token: str | None) -> None:
    """A port outside 1..65535, or a non-loopback address without a token, is a ``UserError``; so
    is a port already taken."""
    if not 1 <= int(port) <= 65535:
        raise UserError(f"web port must be in 1..65535, got {port}")
    if not is_loopback(host) and not token:
        raise UserError(f"serving on {host} exposes the run beyond this machine: give --token SECRET "
                        "(or bind 127.0.0.1)")
    if token is not None and len(token) < 8:
        raise UserError("--token must be at least 8 characters")
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, int(port)))
        except OSError as error:
            raise UserError(f"cannot serve on {host}:{port}: {error.strerror or error}") from None


def _server(app, host: str, port: int):
    import uvicorn

    config = uvicorn.Config(app, host=host, port=int(port), log_level="warning", access_log=False)
    return uvicorn.Server(config)


def serve(app, host: str, port: int) -> None:
    """Serve until Ctrl-C."""
    say(f"web app on http://{host}:{port}/ (Ctrl-C to stop)")
    _server(app, host, port).run()


class BackgroundServer:
    """The app on a daemon thread; ``stop`` ends it (waiting at most ``timeout_s``)."""

    def __init__(self, app, host: str, port: int):
        self.server = _server(app, host, port)
        self.thread = threading.Thread(target=self.server.run, name="web-app", daemon=True)
        self.url = f"http://{host}:{port}/"

    def start(self) -> "BackgroundServer":
        self.thread.start()
        return self

    def stop(self, timeout_s: float = 5.0) -> None:
        self.server.should_exit = True
        self.thread.join(timeout_s)
