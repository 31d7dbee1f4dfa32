#!/usr/bin/env bash
# Sets everything up and runs the platform under supervisord (scripts/supervisord.conf): the web UI + API
# (gunicorn), the Celery workers and beat, the Foundry emulator. A process that dies is started again while
# the others keep serving. Re-runnable; Ctrl-C (or SIGTERM) stops every process.
#
# The demo credentials are kept in $DAM_DEV_DIR/demo-credentials.txt (mode 0600) and stay valid across runs;
# ROTATE_DEMO_KEYS=1 issues new demo API keys. SKIP_BOOTSTRAP=1 skips scripts/bootstrap.sh (tests start this
# script on free ports with their own database and folder).
set -euo pipefail
cd "$(dirname "$0")/.."
[ "${SKIP_BOOTSTRAP:-0}" = "1" ] || bash scripts/bootstrap.sh
# shellcheck disable=SC1091
source .venv/bin/activate

# Secrets live here (demo credentials, supervisord's control socket): the owner's only.
export DAM_DEV_DIR=${DAM_DEV_DIR:-$PWD/.dev}
mkdir -p "$DAM_DEV_DIR"
chmod 0700 "$DAM_DEV_DIR"

export WEB_PORT=${WEB_PORT:-8000}
export EMULATOR_PORT=${EMULATOR_PORT:-8765}
# gunicorn's gthread workers: the usual 2 x cores + 1 processes, a few threads each (requests wait on
# Postgres and the moderation service more than they compute), and a listen backlog for bursts.
cores=$(nproc 2>/dev/null || getconf _NPROCESSORS_ONLN 2>/dev/null || echo 1)
export WEB_WORKERS=${WEB_WORKERS:-$((2 * cores + 1))}
export WEB_THREADS=${WEB_THREADS:-4}
export WEB_BACKLOG=${WEB_BACKLOG:-2048}
export WORKER_CONCURRENCY=${WORKER_CONCURRENCY:-16}
export INTERACTIVE_CONCURRENCY=${INTERACTIVE_CONCURRENCY:-4}
export PYTHONUNBUFFERED=1
export FOUNDRY_ENDPOINT=${FOUNDRY_ENDPOINT:-http://127.0.0.1:${EMULATOR_PORT}}
# Moderation through the Azure AI Content Safety client, answered by the emulator's endpoints.
export MODERATION_BACKEND=${MODERATION_BACKEND:-azure}
export CONTENT_SAFETY_ENDPOINT=${CONTENT_SAFETY_ENDPOINT:-http://127.0.0.1:${EMULATOR_PORT}}

python manage.py ensure_database
python manage.py migrate --no-input -v 0
seed_options=(--credentials-file "$DAM_DEV_DIR/demo-credentials.txt")
[ "${ROTATE_DEMO_KEYS:-0}" = "1" ] && seed_options+=(--rotate-keys)
python manage.py seed_demo "${seed_options[@]}" >/dev/null
# The demo tenant signs its files with its own C2PA key, issued by the local dev CA (var/c2pa) on the first run.
python manage.py create_signing_key acme --if-missing >/dev/null

supervisord -n -c scripts/supervisord.conf &
supervisor_pid=$!
# supervisord stops its programs (each with its process group) before it exits.
stop() { kill -TERM "$supervisor_pid" 2>/dev/null || true; wait "$supervisor_pid" 2>/dev/null || true; }
trap 'stop; exit 0' INT TERM

for _ in $(seq 90); do
  curl -fsS "http://127.0.0.1:${WEB_PORT}/healthz" >/dev/null 2>&1 && break
  kill -0 "$supervisor_pid" 2>/dev/null || { echo "the platform failed to start" >&2; exit 1; }
  sleep 1
done

cat <<BANNER

────────────────────────────────────────────────────────────────────────
 DAM platform is running (Ctrl-C stops everything)
   web UI (admin):  http://127.0.0.1:${WEB_PORT}/admin/
   REST API:        http://127.0.0.1:${WEB_PORT}/api/v1/
   health:          http://127.0.0.1:${WEB_PORT}/healthz
   Foundry emulator http://127.0.0.1:${EMULATOR_PORT}  (dev/test stand-in, not the model)
   processes:       supervisorctl -c scripts/supervisord.conf status  (DAM_DEV_DIR=${DAM_DEV_DIR})
$(sed 's/^/   /' "$DAM_DEV_DIR/demo-credentials.txt")
   (kept in ${DAM_DEV_DIR}/demo-credentials.txt across runs; ROTATE_DEMO_KEYS=1 make run issues new keys)
   try:  curl -H "Authorization: Bearer <demo-integration key>" http://127.0.0.1:${WEB_PORT}/api/v1/tenant
────────────────────────────────────────────────────────────────────────
BANNER
wait "$supervisor_pid"
