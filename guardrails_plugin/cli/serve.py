"""``serve``: run the web service (API v1 and the inbox) for reviewers signed in through OIDC."""

from __future__ import annotations

import os
from pathlib import Path

import click

from guardrails_plugin.cli import render
from guardrails_plugin.cli.approvals import POLICY_ENV, db_options, open_store, with_store_errors
from guardrails_plugin.errors import ConfigError, PolicyError

__all__ = ["serve"]


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
@db_options
@with_store_errors
def serve(
    policy: Path | None,
    host: str,
    port: int,
    public_url: str | None,
    oidc_issuer: str | None,
    db: str | None,
) -> None:
    """Serve the approvals API (/api/v1) and the web inbox (/inbox) for reviewers who sign in
    through your OpenID Connect provider. Settings: GUARDRAILS_OIDC_ISSUER, _CLIENT_ID,
    _CLIENT_SECRET, _AUDIENCE, _IDENTITY_CLAIM, GUARDRAILS_PUBLIC_URL, GUARDRAILS_SESSION_SECRET
    (docs/operations.md, "The web inbox and API")."""
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
    try:
        provider = Provider.discover(settings)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    app = create_app(settings, broker, provider)
    click.echo(f"guardrails-plugin serve: inbox at {settings.public_url}/inbox", err=True)
    run(app, host, port)
