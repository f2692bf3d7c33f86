"""Serve the Slack app: HTTP (``POST /slack/events``) or Socket Mode, plus the outbox loop.

The HTTP front refuses what Bolt should never see: bodies over 1 MiB (413), bodies that are not
UTF-8 or that make Bolt raise (400, never a 500 and never an accepted vote).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from slack_bolt import App, BoltRequest

from guardrails_plugin.notify.slack.outbox import SlackOutbox

__all__ = [
    "EVENTS_PATH",
    "MAX_BODY",
    "OutboxLoop",
    "SlackServer",
    "dispatch",
    "run_outbox",
    "serve_socket_mode",
]

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
MAX_BODY = 1024 * 1024


class SlackServer:
    """The app over HTTP on ``host:port`` (port 0 picks a free one) and the outbox thread."""

    def __init__(
        self,
        app: App,
        outbox: SlackOutbox,
        *,
        host: str = "127.0.0.1",
        port: int = 3000,
        sync_interval: float | None = 0.5,
    ) -> None:
        self.app = app
        self.outbox = outbox
        self.sync_interval = sync_interval
        self._stop = threading.Event()
        self.httpd = ThreadingHTTPServer((host, port), _handler(app))
        self.httpd.daemon_threads = True
        self._threads: list[threading.Thread] = []

    @property
    def port(self) -> int:
        return int(self.httpd.server_address[1])

    def _sync_loop(self) -> None:
        run_outbox(self.outbox, self._stop, self.sync_interval or 0.5)

    def start(self) -> SlackServer:
        """Serve HTTP, and run the outbox every ``sync_interval`` seconds (None: not at all)."""
        targets: list[Callable[[], None]] = [self.httpd.serve_forever]
        if self.sync_interval is not None:
            targets.append(self._sync_loop)
        for target in targets:
            thread = threading.Thread(target=target, daemon=True, name=f"slack-{target.__name__}")
            thread.start()
            self._threads.append(thread)
        return self

    def serve_forever(self) -> None:
        self.start()
        try:
            self._stop.wait()
        except KeyboardInterrupt:
            pass
        finally:
            self.stop()

    def stop(self) -> None:
        self._stop.set()
        self.httpd.shutdown()
        self.httpd.server_close()


def _handler(app: App) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            log.debug("slack http: " + format, *args)

        def _send(self, status: int, body: str = "", headers: dict[str, Any] | None = None) -> None:
            data = body.encode()
            self.send_response(status)
            for name, values in (headers or {}).items():
                for value in values if isinstance(values, list | tuple) else [values]:
                    if name.lower() != "content-length":
                        self.send_header(name, str(value))
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            self._send(
                200 if self.path == "/health" else 404,
                "ok" if self.path == "/health" else "not found",
            )

        def do_POST(self) -> None:
            if self.path.split("?")[0] != EVENTS_PATH:
                self._send(404, "not found")
                return
            try:
                length = int(self.headers.get("Content-Length", "0"))
            except ValueError:
                self._send(400, "bad content length")
                return
            if length < 0 or length > MAX_BODY:
                # Drain a little so the client reads the answer instead of a reset.
                self.rfile.read(min(max(length, 0), 8 * MAX_BODY))
                self._send(413, "request too large")
                return
            raw = self.rfile.read(length)
            self._send(*dispatch(app, raw, list(self.headers.items())))

    return Handler


def dispatch(
    app: App, raw: bytes, headers: Sequence[tuple[str, str]]
) -> tuple[int, str, dict[str, Any]]:
    """Hand one request body (already under `MAX_BODY`) to Bolt, which checks its signature and
    timestamp: (status, body, headers). Shared by `SlackServer` and the ASGI route
    (`notify.slack.asgi`): a body that is not UTF-8 or that makes Bolt raise is a 400, never a
    500 and never an accepted vote."""
    try:
        body = raw.decode("utf-8")
    except UnicodeDecodeError:
        return 400, "body is not UTF-8", {}
    merged: dict[str, list[str]] = {}
    for name, value in headers:
        merged.setdefault(name.lower(), []).append(value)
    try:
        response = app.dispatch(BoltRequest(body=body, headers=dict(merged)))
    except Exception as exc:  # noqa: BLE001 - a malformed request is the sender's fault
        log.warning("rejected a malformed Slack request: %s", exc)
        return 400, "malformed request", {}
    status = response.status if response.status < 500 else 400
    return status, response.body, dict(response.headers)


def run_outbox(outbox: SlackOutbox, stop: threading.Event, interval: float) -> None:
    """Run the outbox every ``interval`` seconds until ``stop`` is set; a failed pass is logged
    and retried on the next one (the requests stay pending, and expire if Slack never answers)."""
    while not stop.is_set():
        try:
            outbox.sync_once()
        except Exception as exc:  # noqa: BLE001 - keep serving; the next pass retries
            log.error("Slack outbox pass failed: %s", exc)
        stop.wait(interval)


class OutboxLoop:
    """`run_outbox` in a daemon thread, for a host that serves the events endpoint itself
    (``guardrails-plugin serve`` mounts it in the web service)."""

    def __init__(self, outbox: SlackOutbox, interval: float = 0.5) -> None:
        self.outbox = outbox
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(
            target=run_outbox,
            args=(self.outbox, self._stop, self.interval),
            daemon=True,
            name="slack-outbox",
        )
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None


def serve_socket_mode(app: App, outbox: SlackOutbox, app_token: str) -> None:
    """Socket Mode: no public URL and no signature check (the app-level token authenticates
    the WebSocket); the outbox runs in a thread beside it."""
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    server = SlackServer(app, outbox, host="127.0.0.1", port=0)
    threading.Thread(target=server._sync_loop, daemon=True, name="slack-outbox").start()
    SocketModeHandler(app, app_token).start()  # type: ignore[no-untyped-call]
