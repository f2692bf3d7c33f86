"""A local fake of Slack's Web API, and signed requests, for testing the Slack app offline.

    with FakeSlackAPI() as slack:
        settings = SlackSettings.resolve(..., api_url=slack.url)
        ...
        slack.calls("chat.postMessage")

The real ``WebClient`` talks to it over HTTP; it records every call and answers the methods the
app uses (``auth.test``, ``chat.postMessage``, ``chat.update``, ``chat.postEphemeral``,
``views.open``). ``fail_with`` makes methods answer an error, to test outages.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from slack_sdk.signature import SignatureVerifier

__all__ = ["FakeSlackAPI", "signed"]


class FakeSlackAPI:
    def __init__(self, team_id: str = "T0001") -> None:
        self.team_id = team_id
        self.recorded: list[tuple[str, dict[str, Any]]] = []
        self.fail_with: dict[str, str] = {}
        self._lock = threading.Lock()
        self._ts = 1_700_000_000
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.httpd.daemon_threads = True

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/api/"

    def calls(self, method: str) -> list[dict[str, Any]]:
        with self._lock:
            return [params for name, params in self.recorded if name == method]

    def __enter__(self) -> FakeSlackAPI:
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def _answer(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            self.recorded.append((method, params))
            if method in self.fail_with:
                return {"ok": False, "error": self.fail_with[method]}
            if method == "auth.test":
                return {
                    "ok": True,
                    "user_id": "UBOT",
                    "bot_id": "BBOT",
                    "team_id": self.team_id,
                    "team": "fake",
                    "user": "guardrails",
                }
            if method == "chat.postMessage":
                self._ts += 1
                ts = f"{self._ts}.000100"
                return {
                    "ok": True,
                    "channel": params.get("channel"),
                    "ts": ts,
                    "message": {"ts": ts, "text": params.get("text")},
                }
            if method == "chat.update":
                return {"ok": True, "channel": params.get("channel"), "ts": params.get("ts")}
            return {"ok": True}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", "0"))).decode()
                if "json" in (self.headers.get("Content-Type") or ""):
                    params = json.loads(raw or "{}")
                else:
                    params = {k: v[0] for k, v in urllib.parse.parse_qs(raw).items()}
                for key in ("blocks", "view"):
                    if isinstance(params.get(key), str):
                        params[key] = json.loads(params[key])
                method = self.path.rsplit("/", 1)[-1]
                data = json.dumps(fake._answer(method, params)).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler


def signed(
    payload: dict[str, Any], secret: str, *, timestamp: int | None = None, form_key: str = "payload"
) -> tuple[str, dict[str, str]]:
    """A body and headers exactly as Slack sends an interactive payload, signed with ``secret``."""
    body = f"{form_key}=" + urllib.parse.quote(json.dumps(payload))
    ts = str(int(time.time()) if timestamp is None else timestamp)
    signature = str(SignatureVerifier(secret).generate_signature(timestamp=ts, body=body))
    return body, {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": signature,
    }
