"""golive's bot: settings, store, transports (Slack, Teams, terminal), rollout and scheduling around the
check engine in `checks`."""
