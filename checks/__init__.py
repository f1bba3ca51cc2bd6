"""The check library: what a go-live verifies, how it runs, and the verdict it reaches.

Nothing here knows about Slack, Teams or the bot's own store; transports and the CLI call in.
"""
