"""Who may act and how it is proven outside chat: the CLI's identity (operators file), break-glass
actions taken without the access table (bot.access), and the audit chain's witness."""
