"""Slack listeners of one kind; see bot.slack.listeners."""
