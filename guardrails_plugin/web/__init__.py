"""The reviewer-facing web service (``guardrails-plugin serve``): API v1, the inbox, OIDC sign-in.

Needs the ``web`` extra (starlette, uvicorn, jinja2, authlib). Votes go through the same
`ApprovalBroker` as Slack and the CLI; this package only proves who the reviewer is (a JWT the
identity provider signed, or an inbox session started by signing in there) and renders the
masked request (`approvals.review.shown_args`).
"""

from __future__ import annotations

__all__: list[str] = []
