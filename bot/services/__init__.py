"""Services: one bot serving the go-lives of several services (a registry of checklists, channels and roles)."""
