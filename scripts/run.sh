#!/usr/bin/env bash
# Sets everything up and runs the platform: web UI + API, Celery worker, Foundry emulator.
# Re-runnable; Ctrl-C stops every process.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
# shellcheck disable=SC1091
source .venv/bin/activate

export WEB_PORT=${WEB_PORT:-8000}
export EMULATOR_PORT=${EMULATOR_PORT:-8765}
export FOUNDRY_ENDPOINT=${FOUNDRY_ENDPOINT:-http://127.0.0.1:${EMULATOR_PORT}}
# Moderation through the Azure AI Content Safety client, answered by the emulator's endpoints.
export MODERATION_BACKEND=${MODERATION_BACKEND:-azure}
export CONTENT_SAFETY_ENDPOINT=${CONTENT_SAFETY_ENDPOINT:-http://127.0.0.1:${EMULATOR_PORT}}

python manage.py ensure_database
python manage.py migrate --no-input -v 0
mkdir -p .dev
python manage.py seed_demo > .dev/demo-credentials.txt

honcho start -f Procfile &
honcho_pid=$!
stop() { kill -TERM "$honcho_pid" 2>/dev/null || true; wait "$honcho_pid" 2>/dev/null || true; }
trap 'stop; exit 0' INT TERM

for _ in $(seq 60); do
  curl -fsS "http://127.0.0.1:${WEB_PORT}/healthz" >/dev/null 2>&1 && break
  kill -0 "$honcho_pid" 2>/dev/null || { echo "the platform failed to start" >&2; exit 1; }
  sleep 1
done

cat <<BANNER

────────────────────────────────────────────────────────────────────────
 DAM platform is running (Ctrl-C stops everything)
   web UI (admin):  http://127.0.0.1:${WEB_PORT}/admin/
   REST API:        http://127.0.0.1:${WEB_PORT}/api/v1/
   health:          http://127.0.0.1:${WEB_PORT}/healthz
   Foundry emulator http://127.0.0.1:${EMULATOR_PORT}  (dev/test stand-in, not the model)
$(sed 's/^/   /' .dev/demo-credentials.txt)
   try:  curl -H "Authorization: Bearer <demo-integration key>" http://127.0.0.1:${WEB_PORT}/api/v1/tenant
────────────────────────────────────────────────────────────────────────
BANNER
wait "$honcho_pid"
