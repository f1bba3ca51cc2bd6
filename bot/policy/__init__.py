"""Release rules decided by people, outside the checklist's checks: freeze windows and their
overrides, and waivers of failing checks."""
