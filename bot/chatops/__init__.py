"""The transport-neutral ChatOps layer: command text → command objects → plain results.

Slack and Teams both parse with `bot.chatops.commands.parse_command`, execute through
`bot.chatops.service.ChatOps`, and only render the replies (`bot.chatops.replies`); who may do what
is decided by `bot.access`, never by a transport. Import from the submodules (this package stays
empty so `bot.access` can import `bot.chatops.actor` without a cycle).
"""
