"""Sign-offs: required roles per stage, decisions recorded exactly once, and their audit trail."""
