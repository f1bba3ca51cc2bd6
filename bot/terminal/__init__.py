"""The terminal transport: progress lines and result tables for `golive` on a console or in CI."""
