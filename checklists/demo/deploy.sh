#!/usr/bin/env bash
# Stand-in deploy script of the demo service: with --dry-run it only says what it would do.
set -euo pipefail
if [[ "${1:-}" != "--dry-run" ]]; then
  echo "refusing: the demo deploy script only supports --dry-run" >&2
  exit 2
fi
echo "[dry-run] would pull image demo-api:v1.0"
echo "[dry-run] would run: alembic upgrade head"
echo "[dry-run] would restart 2 replicas, one at a time"
