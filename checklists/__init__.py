"""Checklist files shipped with golive: `hunter.yml` (the Hunter go-live plan) and `demo.yml`."""
