#!/usr/bin/env bash
# Stand-in destructive reset of the demo service: refuses production unless FORCE_PRODUCTION=yes.
set -euo pipefail
if [[ "${ENVIRONMENT:-}" == "production" && "${FORCE_PRODUCTION:-}" != "yes" ]]; then
  echo "refusing to reset a production database without FORCE_PRODUCTION=yes" >&2
  exit 3
fi
echo "[demo] database would be reset here"
