"""Slack approvals: a Bolt app reviewers can trust.

`build_app` makes the Bolt app and its outbox from `SlackSettings` and an `ApprovalBroker`;
`SlackServer` serves it over HTTP and runs the outbox; ``guardrails-plugin slack serve`` does
both from the command line. `notify.slack.testing` has a fake Slack Web API for offline tests.

Needs the ``slack`` extra: ``pip install 'guardrails-plugin[slack]'``.
"""

from guardrails_plugin.notify.slack.app import build_app
from guardrails_plugin.notify.slack.outbox import SlackOutbox
from guardrails_plugin.notify.slack.server import EVENTS_PATH, SlackServer, serve_socket_mode
from guardrails_plugin.notify.slack.settings import SlackSettings

__all__ = [
    "EVENTS_PATH",
    "SlackOutbox",
    "SlackServer",
    "SlackSettings",
    "build_app",
    "serve_socket_mode",
]
