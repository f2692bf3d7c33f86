"""A local fake of Slack's Web API, and signed requests, for testing the Slack app offline.

    with FakeSlackAPI() as slack:
        settings = SlackSettings.resolve(..., api_url=slack.url)
        ...
        slack.calls("chat.postMessage")

The real ``WebClient`` talks to it over HTTP; it records every call and answers the methods the
app uses (``auth.test``, ``chat.postMessage``, ``chat.update``, ``chat.postEphemeral``,
``views.open``). ``fail_with`` makes methods answer an error, to test outages; ``delay`` makes
them answer that many seconds late, as a real round trip to Slack does.

Like real Slack it refuses messages and views over Block Kit's documented limits (a section's
text over 3,000 characters, more than 50 blocks, a button value over 2,000 ...): messages with
``invalid_blocks``, views with ``invalid_arguments``, each naming the JSON pointer of the fault.
`block_kit_errors` is the same check, for tests that build blocks directly.
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

__all__ = ["FakeSlackAPI", "block_kit_errors", "signed"]


class FakeSlackAPI:
    def __init__(self, team_id: str = "T0001") -> None:
        self.team_id = team_id
        self.recorded: list[tuple[str, dict[str, Any]]] = []
        self.refused: list[tuple[str, list[str]]] = []  # (method, what Slack would say)
        self.fail_with: dict[str, str] = {}
        self.delay: dict[str, float] = {}
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
        if self.delay.get(method):
            time.sleep(self.delay[method])
        with self._lock:
            self.recorded.append((method, params))
            if method in self.fail_with:
                return {"ok": False, "error": self.fail_with[method]}
            refusal = _refusal(method, params)
            if refusal is not None:
                self.refused.append((method, refusal["response_metadata"]["messages"]))
                return refusal
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
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the caller died waiting (a test killed it): Slack would not care

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


# --- Block Kit limits, as documented by Slack (and encoded in slack_sdk.models) ---------------

MESSAGE_TEXT_LIMIT = 40_000  # chat.postMessage answers msg_too_long past this
MAX_MESSAGE_BLOCKS = 50
MAX_VIEW_BLOCKS = 100
_TEXT_OBJECT = 3000  # any text object, so a section's text too
# (block or element type, field) -> limit on the length of that text (or list)
_LIMITS: dict[tuple[str, str], int] = {
    ("section", "fields"): 10,
    ("section", "field"): 2000,
    ("header", "text"): 150,
    ("context", "elements"): 10,
    ("actions", "elements"): 25,
    ("button", "text"): 75,
    ("button", "value"): 2000,
    ("button", "url"): 3000,
    ("input", "label"): 2000,
    ("input", "hint"): 2000,
    ("plain_text_input", "placeholder"): 150,
    # Documented as max_length <= 3000; Slack refuses an initial value the user could not type.
    ("plain_text_input", "initial_value"): 3000,
    ("modal", "title"): 24,
    ("modal", "submit"): 24,
    ("modal", "close"): 24,
    ("modal", "private_metadata"): 3000,
}
_IDS = ("block_id", "action_id")  # each at most 255 characters


def _refusal(method: str, params: dict[str, Any]) -> dict[str, Any] | None:
    if method in ("chat.postMessage", "chat.update", "chat.postEphemeral"):
        text = params.get("text")
        if isinstance(text, str) and len(text) > MESSAGE_TEXT_LIMIT:
            return {
                "ok": False,
                "error": "msg_too_long",
                "response_metadata": {"messages": [f"text is {len(text)} characters"]},
            }
        blocks = params.get("blocks")
        errors = block_kit_errors(blocks) if blocks is not None else []
        if errors:
            return {
                "ok": False,
                "error": "invalid_blocks",
                "errors": errors,
                "response_metadata": {"messages": errors},
            }
    if method in ("views.open", "views.update", "views.push"):
        errors = block_kit_errors(params.get("view"), surface="view")
        if errors:
            return {
                "ok": False,
                "error": "invalid_arguments",
                "response_metadata": {"messages": errors},
            }
    return None


def block_kit_errors(payload: Any, surface: str = "message") -> list[str]:
    """Every place where ``payload`` (a message's blocks, or a view) breaks Block Kit's limits,
    worded as Slack words it: ``must be less than 3001 characters [json-pointer:/blocks/1/...]``."""
    errors: list[str] = []
    if surface == "view":
        if not isinstance(payload, dict):
            return ["view must be an object [json-pointer:/view]"]
        for field in ("title", "submit", "close", "private_metadata"):
            _length(errors, payload.get(field), _LIMITS[("modal", field)], f"/view/{field}")
        blocks = payload.get("blocks", [])
        limit, base = MAX_VIEW_BLOCKS, "/view/blocks"
    else:
        blocks, limit, base = payload, MAX_MESSAGE_BLOCKS, "/blocks"
    if not isinstance(blocks, list):
        return [*errors, f"must be an array [json-pointer:{base}]"]
    if len(blocks) > limit:
        errors.append(f"must contain at most {limit} items [json-pointer:{base}]")
    for i, block in enumerate(blocks):
        _check(errors, block, f"{base}/{i}")
    return errors


def _check(errors: list[str], node: Any, where: str) -> None:
    if isinstance(node, list):
        for i, item in enumerate(node):
            _check(errors, item, f"{where}/{i}")
        return
    if not isinstance(node, dict):
        return
    kind = str(node.get("type", ""))
    if kind in ("mrkdwn", "plain_text"):
        _length(errors, node.get("text"), _TEXT_OBJECT, f"{where}/text")
    for key in _IDS:
        _length(errors, node.get(key), 255, f"{where}/{key}")
    for (owner, field), limit in _LIMITS.items():
        if owner != kind or field not in node:
            continue
        value = node[field]
        if isinstance(value, list):
            if len(value) > limit:
                errors.append(f"must contain at most {limit} items [json-pointer:{where}/{field}]")
        else:
            _length(errors, value, limit, f"{where}/{field}")
    if kind == "section":
        for i, item in enumerate(node.get("fields") or []):
            _length(errors, item, _LIMITS[("section", "field")], f"{where}/fields/{i}")
    for key, value in node.items():
        if isinstance(value, dict | list):
            _check(errors, value, f"{where}/{key}")


def _length(errors: list[str], value: Any, limit: int, where: str) -> None:
    if isinstance(value, dict):
        value = value.get("text")
    if isinstance(value, str) and len(value) > limit:
        errors.append(f"must be less than {limit + 1} characters [json-pointer:{where}]")
