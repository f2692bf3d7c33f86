"""The OpenAPI 3.1 document of API v1, written out by hand so it says what the handlers check
(a test compares its paths with the app's routes)."""

from __future__ import annotations

from typing import Any

from guardrails_plugin import __version__

__all__ = ["document"]

_ERROR = {
    "description": "Refused; the body says why.",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
}


def _json(ref: str, description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{ref}"}}},
    }


def _errors(*codes: int) -> dict[str, Any]:
    return {str(c): _ERROR for c in (401, 403, *codes)}


def _query(name: str, description: str, **schema: Any) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": schema or {"type": "string"},
    }


_ID = {"name": "request_id", "in": "path", "required": True, "schema": {"type": "string"}}

_SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "properties": {"status": {"type": "integer"}, "message": {"type": "string"}},
            }
        },
    },
    "Vote": {
        "type": "object",
        "properties": {
            "person": {"type": "string"},
            "identity": {"type": "string"},
            "channel": {"type": "string"},
            "verdict": {"enum": ["approve", "deny"]},
            "revision": {"type": "integer"},
            "reason": {"type": ["string", "null"]},
            "edited_args": {"type": ["object", "null"]},
            "at": {"type": "string", "format": "date-time"},
        },
    },
    "Request": {
        "type": "object",
        "description": "An approval request. args are what reviewers see (the rule's "
        "reviewer_view: masked, partial or clear; secrets always masked).",
        "properties": {
            "id": {"type": "string"},
            "status": {"enum": ["pending", "approved", "denied", "expired", "cancelled"]},
            "tool": {"type": "string"},
            "args": {"type": "object"},
            "args_shown": {"type": "string"},
            "edited_args": {"type": ["object", "null"]},
            "revision": {"type": "integer"},
            "rule_id": {"type": ["string", "null"]},
            "reason": {"type": "string"},
            "principal": {"type": "string"},
            "on_behalf_of": {"type": ["string", "null"]},
            "run_id": {"type": ["string", "null"]},
            "approvers": {"type": "array", "items": {"type": "string"}},
            "approver_identities": {"type": "object"},
            "quorum": {"type": "integer"},
            "require_reason": {"type": "boolean"},
            "allow_edit": {"type": "boolean"},
            "authentication": {"type": ["string", "null"]},
            "needs_sign_in": {"type": "boolean"},
            "data_classes": {"type": "array", "items": {"type": "string"}},
            "environment": {"type": "object"},
            "created_at": {"type": "string"},
            "expires_at": {"type": "string"},
            "decided_at": {"type": ["string", "null"]},
            "decided_by": {"type": ["string", "null"]},
            "decision_reason": {"type": ["string", "null"]},
            "executed_at": {"type": ["string", "null"]},
            "votes": {"type": "array", "items": {"$ref": "#/components/schemas/Vote"}},
        },
    },
    "VoteIn": {
        "type": "object",
        "additionalProperties": False,
        "required": ["verdict"],
        "properties": {
            "verdict": {"enum": ["approve", "deny", "edit"]},
            "revision": {
                "type": "integer",
                "minimum": 0,
                "description": "The revision you reviewed; required to approve or edit.",
            },
            "reason": {"type": "string", "maxLength": 2000, "description": "Required to deny."},
            "args": {"type": "object", "description": "edit only: the new arguments."},
        },
    },
    "VoteOut": {
        "type": "object",
        "properties": {
            "request": {"$ref": "#/components/schemas/Request"},
            "counted": {"type": "boolean"},
            "message": {"type": "string"},
        },
    },
    "Verify": {
        "type": "object",
        "properties": {
            "ok": {"type": "boolean"},
            "chain_ok": {"type": "boolean"},
            "rows": {"type": "integer"},
            "first_bad_seq": {"type": ["integer", "null"]},
            "problem": {"type": ["string", "null"]},
            "head": {"type": ["object", "null"]},
            "requests": {"type": "object"},
        },
    },
}


def document(server_url: str) -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "guardrails-plugin approvals API",
            "version": __version__,
            "description": "Approval requests of guarded AI agents: read them, vote on them, "
            "read and verify the audit log. Authenticate with an access token (JWT) from the "
            "configured OpenID Connect provider. Votes count only from identities the policy's "
            "people list as approvers of the request.",
        },
        "servers": [{"url": server_url}],
        "security": [{"bearer": []}],
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
            },
            "schemas": _SCHEMAS,
        },
        "paths": {
            "/api/v1/requests": {
                "get": {
                    "summary": "List approval requests, newest first",
                    "parameters": [
                        _query("status", "pending, approved, denied, expired or cancelled"),
                        _query("tool", "Only this tool"),
                        _query("rule", "Only this policy rule"),
                        _query("run", "Only this agent run"),
                        _query("limit", "At most this many (1-500)", type="integer"),
                    ],
                    "responses": {
                        "200": {
                            "description": "Requests",
                            "content": {
                                "application/json": {
                                    "schema": {
                                        "type": "object",
                                        "properties": {
                                            "requests": {
                                                "type": "array",
                                                "items": {"$ref": "#/components/schemas/Request"},
                                            }
                                        },
                                    }
                                }
                            },
                        },
                        **_errors(400),
                    },
                }
            },
            "/api/v1/requests/{request_id}": {
                "get": {
                    "summary": "One request with its votes",
                    "parameters": [_ID],
                    "responses": {"200": _json("Request", "The request"), **_errors(404)},
                }
            },
            "/api/v1/requests/{request_id}/votes": {
                "post": {
                    "summary": "Approve, deny (with a reason) or edit and approve",
                    "description": "Goes through the approval broker: approver set, no "
                    "self-approval, quorum, revision, reason and step-up checks. With an "
                    "inbox session instead of a bearer token, send X-CSRF-Token.",
                    "parameters": [_ID],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/VoteIn"}}
                        },
                    },
                    "responses": {
                        "200": _json("VoteOut", "The vote was recorded (or was a repeat)"),
                        **_errors(400, 404, 409, 413, 415, 422, 429),
                    },
                }
            },
            "/api/v1/audit": {
                "get": {
                    "summary": "Audit events (hash-chained), as JSON lines or CSV",
                    "parameters": [
                        _query("since", "ISO time or a duration ago such as 24h"),
                        _query("after_seq", "Only rows after this sequence number", type="integer"),
                        _query(
                            "limit",
                            "Rows in this page, 1-10000 (default 1000); a full page names the "
                            "next after_seq in X-Next-After-Seq",
                            type="integer",
                        ),
                        _query("format", "jsonl (default) or csv"),
                    ],
                    "responses": {
                        "200": {
                            "description": "Audit rows",
                            "content": {
                                "application/x-ndjson": {"schema": {"type": "string"}},
                                "text/csv": {"schema": {"type": "string"}},
                            },
                        },
                        **_errors(400),
                    },
                }
            },
            "/api/v1/audit/verify": {
                "get": {
                    "summary": "Recompute the keyed hash chain and check every request",
                    "responses": {"200": _json("Verify", "Verification result"), **_errors(429)},
                }
            },
            "/api/v1/stream": {
                "get": {
                    "summary": "Server-Sent Events: one 'request' event per request change",
                    "responses": {
                        "200": {
                            "description": "An event stream",
                            "content": {"text/event-stream": {"schema": {"type": "string"}}},
                        },
                        **_errors(),
                    },
                }
            },
        },
    }
