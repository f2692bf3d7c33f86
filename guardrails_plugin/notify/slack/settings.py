"""Slack settings, from flags or the environment, refused when unsafe or incomplete."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from guardrails_plugin.errors import ConfigError

__all__ = ["DEFAULT_API_URL", "SlackSettings"]

DEFAULT_API_URL = "https://slack.com/api/"


@dataclass(frozen=True)
class SlackSettings:
    bot_token: str
    channel: str
    signing_secret: str | None = None
    app_token: str | None = None
    api_url: str = DEFAULT_API_URL
    socket: bool = False
    rule_channels: Mapping[str, str] = field(default_factory=dict)
    team_id: str | None = None  # refuse votes from any other workspace when set

    def channel_for(self, rule_id: str | None) -> str:
        return self.rule_channels.get(rule_id or "", self.channel)

    @classmethod
    def resolve(
        cls,
        *,
        bot_token: str | None = None,
        signing_secret: str | None = None,
        app_token: str | None = None,
        api_url: str | None = None,
        channel: str | None = None,
        rule_channels: Mapping[str, str] | None = None,
        socket: bool = False,
        team_id: str | None = None,
        env: Mapping[str, str] | None = None,
    ) -> SlackSettings:
        """Explicit values beat ``SLACK_BOT_TOKEN``, ``SLACK_SIGNING_SECRET``,
        ``SLACK_APP_TOKEN``, ``SLACK_API_URL``, ``GUARDRAILS_SLACK_CHANNEL``,
        ``GUARDRAILS_SLACK_TEAM``. Raises `ConfigError` naming every missing setting."""
        env = os.environ if env is None else env
        bot = bot_token or env.get("SLACK_BOT_TOKEN")
        secret = signing_secret or env.get("SLACK_SIGNING_SECRET")
        app = app_token or env.get("SLACK_APP_TOKEN")
        where = channel or env.get("GUARDRAILS_SLACK_CHANNEL")
        missing = []
        if not bot:
            # Tokens come from the environment only: a command line is visible to every local user.
            missing.append("the bot token (SLACK_BOT_TOKEN in the environment, xoxb-...)")
        if not where:
            missing.append("the channel to post in (--channel or GUARDRAILS_SLACK_CHANNEL)")
        if socket and not app:
            missing.append("the app-level token for Socket Mode (SLACK_APP_TOKEN, xapp-...)")
        if not socket and not secret:
            # HTTP mode without a signing secret would accept forged clicks: never start.
            missing.append("the signing secret for HTTP mode (SLACK_SIGNING_SECRET)")
        if missing:
            raise ConfigError("cannot start the Slack app; missing " + "; ".join(missing))
        url = api_url or env.get("SLACK_API_URL") or DEFAULT_API_URL
        return cls(
            bot_token=str(bot),
            channel=str(where),
            signing_secret=secret,
            app_token=app,
            api_url=url if url.endswith("/") else url + "/",
            socket=socket,
            rule_channels=dict(rule_channels or {}),
            team_id=team_id or env.get("GUARDRAILS_SLACK_TEAM") or None,
        )
