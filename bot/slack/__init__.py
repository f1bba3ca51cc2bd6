"""The Slack transport: a Bolt AsyncApp that receives `/golive` and button clicks, and renders what
`bot.chatops` returns as Block Kit. No business logic lives here."""
