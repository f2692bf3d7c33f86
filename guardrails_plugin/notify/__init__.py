"""Channels that deliver approval requests to people: `notify.slack` (a Bolt app)."""
