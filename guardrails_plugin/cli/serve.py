"""``serve``: run the web service (API v1 and the inbox) for reviewers signed in through OIDC,
and, when Slack is configured, the Slack app's events endpoint and outbox in the same service."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from guardrails_plugin.cli import render
from guardrails_plugin.cli.approvals import POLICY_ENV, db_options, open_store, with_store_errors
from guardrails_plugin.cli.slack import _pairs
from guardrails_plugin.errors import ConfigError, PolicyError

if TYPE_CHECKING:
    from guardrails_plugin.approvals import ApprovalBroker

__all__ = ["serve"]


def _slack(
    wanted: bool | None, channel: str | None, rule_channels: dict[str, str], broker: ApprovalBroker
) -> Any:
    """The Slack app as an extension of the web service (`notify.slack.asgi.SlackEndpoint`), or
    None. Slack is on with ``--slack``, or when ``SLACK_BOT_TOKEN`` is set and ``--no-slack`` is
    not given; then every setting ``slack serve`` needs in HTTP mode must be there (the signing
    secret above all: without it forged clicks would count), or the service does not start."""
    if wanted is False or (wanted is None and not os.environ.get("SLACK_BOT_TOKEN")):
        return None
    try:
        from guardrails_plugin.notify.slack import SlackSettings, build_app
        from guardrails_plugin.notify.slack.asgi import SlackEndpoint
    except ImportError as exc:
        raise click.ClickException(
            f"serving Slack needs the slack extra ({exc.name} is missing): "
            "pip install 'guardrails-plugin[slack]', or pass --no-slack"
        ) from None
    try:
        settings = SlackSettings.resolve(channel=channel, rule_channels=rule_channels)
    except ConfigError as exc:
        # The message names `slack serve`'s own --channel; here it is --slack-channel.
        why = str(exc).replace("(--channel ", "(--slack-channel ")
        raise click.ClickException(f"{why} (or pass --no-slack)") from None
    app, outbox = build_app(settings, broker)
    return SlackEndpoint(app, outbox)


@click.command()
@click.option(
    "--policy",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    default=None,
    help="The policy the agents use (default: $GUARDRAILS_POLICY): it maps oidc: identities "
    "to people and judges edits; changes to the file are followed.",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8080, show_default=True)
@click.option(
    "--public-url",
    default=None,
    help="The URL reviewers open (default: $GUARDRAILS_PUBLIC_URL); redirect URIs derive from it.",
)
@click.option(
    "--oidc-issuer",
    default=None,
    help="The identity provider's issuer URL (default: $GUARDRAILS_OIDC_ISSUER).",
)
@click.option(
    "--slack/--no-slack",
    "slack",
    default=None,
    help="Also serve the Slack app at /slack/events and post requests to Slack (default: on "
    "when SLACK_BOT_TOKEN is set). Settings as for `slack serve` in HTTP mode.",
)
@click.option(
    "--slack-channel",
    default=None,
    help="Slack channel for requests (default: $GUARDRAILS_SLACK_CHANNEL).",
)
@click.option(
    "--slack-rule-channel",
    "slack_rule_channels",
    multiple=True,
    callback=_pairs,
    help="A Slack channel for one rule, RULE=CHANNEL; repeatable.",
)
@db_options
@with_store_errors
def serve(
    policy: Path | None,
    host: str,
    port: int,
    public_url: str | None,
    oidc_issuer: str | None,
    slack: bool | None,
    slack_channel: str | None,
    slack_rule_channels: dict[str, str],
    db: str | None,
) -> None:
    """Serve the approvals API (/api/v1) and the web inbox (/inbox) for reviewers who sign in
    through your OpenID Connect provider, and the Slack app (/slack/events) when Slack is
    configured. Settings: GUARDRAILS_OIDC_ISSUER, _CLIENT_ID, _CLIENT_SECRET, _AUDIENCE,
    _IDENTITY_CLAIM, GUARDRAILS_PUBLIC_URL, GUARDRAILS_SESSION_SECRET; for Slack SLACK_BOT_TOKEN,
    SLACK_SIGNING_SECRET, GUARDRAILS_SLACK_CHANNEL (docs/operations.md, "The web inbox and
    API")."""
    try:
        from guardrails_plugin.web.app import create_app, run
        from guardrails_plugin.web.oidc import Provider
        from guardrails_plugin.web.settings import WebSettings
    except ImportError as exc:
        raise click.ClickException(
            f"the web service needs the web extra ({exc.name} is missing): "
            "pip install 'guardrails-plugin[web]'"
        ) from None
    from guardrails_plugin.cli.voting import reviewer_broker
    from guardrails_plugin.policy import Policy

    path = policy or (Path(os.environ[POLICY_ENV]) if os.environ.get(POLICY_ENV) else None)
    if path is None:
        raise click.UsageError(
            f"give the agents' policy with --policy FILE (or set {POLICY_ENV}): it says who "
            "may approve"
        )
    try:
        settings = WebSettings.resolve(public_url=public_url, issuer=oidc_issuer)
        loaded = Policy.load(path)
    except PolicyError as exc:
        render.print_policy_error(render.stderr(), exc)
        raise SystemExit(1) from None
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    broker = reviewer_broker(open_store(db), loaded)
    broker.follow_policy_file("web")
    endpoint = _slack(slack, slack_channel, slack_rule_channels, broker)
    try:
        provider = Provider.discover(settings)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    app = create_app(settings, broker, provider, extensions=[endpoint] if endpoint else [])
    click.echo(f"guardrails-plugin serve: inbox at {settings.public_url}/inbox", err=True)
    if endpoint is not None:
        click.echo(
            f"guardrails-plugin serve: Slack events at {settings.public_url}/slack/events; "
            f"requests posted to {endpoint.outbox.settings.channel}",
            err=True,
        )
    run(app, host, port)
