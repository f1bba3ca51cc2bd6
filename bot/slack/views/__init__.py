"""Block Kit rendering of ChatOps replies. Pure functions: plain data in, `SlackMessage` out."""
