"""``guardrails-plugin slack serve``: the Slack approvals app."""

from __future__ import annotations

import os
from pathlib import Path

import click

from guardrails_plugin.cli import render
from guardrails_plugin.cli.approvals import DB_HELP, POLICY_ENV
from guardrails_plugin.cli.voting import reviewer_broker
from guardrails_plugin.errors import GuardError, PolicyError

__all__ = ["slack"]


def _pairs(_ctx: click.Context, _param: click.Parameter, value: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for item in value:
        rule, sep, channel = item.partition("=")
        if not sep or not rule or not channel:
            raise click.BadParameter(
                f"expected RULE=CHANNEL such as prod-export=C0DBA, got {item!r}"
            )
        out[rule] = channel
    return out


@click.group()
def slack() -> None:
    """Approve tool calls from Slack threads."""


@slack.command("serve")
@click.option(
    "--policy",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Policy with the people and groups who may approve (default: $GUARDRAILS_POLICY).",
)
@click.option("--db", type=str, default=None, metavar="PATH|URL", help=DB_HELP)
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=3000,
    show_default=True,
    help="HTTP port; Slack posts to http(s)://HOST:PORT/slack/events.",
)
@click.option("--host", default="0.0.0.0", show_default=True, help="Address to listen on.")
@click.option(
    "--socket", is_flag=True, help="Use Socket Mode (needs SLACK_APP_TOKEN) instead of HTTP."
)
@click.option(
    "--channel", default=None, help="Channel for requests (default: $GUARDRAILS_SLACK_CHANNEL)."
)
@click.option(
    "--rule-channel",
    "rule_channels",
    multiple=True,
    callback=_pairs,
    help="A channel for one rule, RULE=CHANNEL; repeatable.",
)
@click.option(
    "--api-url",
    default=None,
    help="Slack Web API base URL (default: $SLACK_API_URL or https://slack.com/api/).",
)
def serve(
    policy: Path | None,
    db: str | None,
    port: int,
    host: str,
    socket: bool,
    channel: str | None,
    rule_channels: dict[str, str],
    api_url: str | None,
) -> None:
    """Post approval requests to Slack threads and record the votes reviewers click.

    Tokens come from the environment: SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET (HTTP mode),
    SLACK_APP_TOKEN (Socket Mode).
    """
    from guardrails_plugin.policy import Policy
    from guardrails_plugin.store.factory import open_store

    try:
        from guardrails_plugin.notify.slack import (
            SlackServer,
            SlackSettings,
            build_app,
            serve_socket_mode,
        )
    except ImportError as exc:
        raise click.ClickException(
            f"the Slack app needs the slack extra ({exc.name} is missing): "
            "pip install 'guardrails-plugin[slack]'"
        ) from None
    path = policy or (Path(os.environ[POLICY_ENV]) if os.environ.get(POLICY_ENV) else None)
    if path is None:
        raise click.BadParameter(
            "give the policy with --policy or GUARDRAILS_POLICY", param_hint="--policy"
        )
    try:
        settings = SlackSettings.resolve(
            channel=channel, rule_channels=rule_channels, socket=socket, api_url=api_url
        )
        loaded = Policy.load(path)
        store = open_store(db)
    except PolicyError as exc:
        render.print_policy_error(render.stderr(), exc)
        raise SystemExit(1) from None
    except GuardError as exc:
        raise click.ClickException(str(exc)) from None
    broker = reviewer_broker(store, loaded)
    broker.follow_policy_file("slack-app")  # a changed --policy file counts without a restart
    app, outbox = build_app(settings, broker)
    out = render.stdout()
    if socket:
        out.print(f"Slack app in Socket Mode; store {store.path}; channel {settings.channel}")
        serve_socket_mode(app, outbox, str(settings.app_token))
        return
    server = SlackServer(app, outbox, host=host, port=port)
    out.print(
        f"Slack app on http://{host}:{server.port}/slack/events; store {store.path}; "
        f"channel {settings.channel}"
    )
    server.serve_forever()
