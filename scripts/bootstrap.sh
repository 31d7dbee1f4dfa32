#!/usr/bin/env bash
# Shared set-up for `make run`, `make test` and CI: system packages, local services,
# the virtualenv. Safe to run again and again; each step does nothing when already done.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\033[1;34m==>\033[0m %s\n' "$*" >&2; }

# --- Debian packages ----------------------------------------------------------------
# Noto fonts + raqm give the emulator real glyphs with correct shaping for Japanese,
# Korean, Chinese, Devanagari and Bengali; libvips is the faster rendition engine for
# crops and scales (bench/renditions.py); Chromium drives the browser tests.
APT_PACKAGES=(fonts-noto-core fonts-noto-cjk libraqm0 libvips42 postgresql-client redis-tools)
# Tesseract and its language packs read the in-image copy back (dam/checks): one pack per supported locale,
# the vertical packs where they exist (CJK copy may be set top to bottom). Nothing is downloaded at run time.
# The list is tools/tessdata/apt-packages.txt, which the Dockerfile installs too.
mapfile -t TESSERACT_PACKAGES < tools/tessdata/apt-packages.txt
APT_PACKAGES+=("${TESSERACT_PACKAGES[@]}")
[ "${SKIP_BROWSER:-0}" = "1" ] || APT_PACKAGES+=(chromium)
# Node.js only where the machine has none (it brings its own npm).
command -v npm >/dev/null 2>&1 || APT_PACKAGES+=(nodejs npm)
APT_PACKAGES+=(${EXTRA_APT_PACKAGES:-})
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  log "installing Debian packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# --- Local services ---------------------------------------------------------------------
if [ -z "${DATABASE_URL:-}" ] || [[ "${DATABASE_URL}" == *127.0.0.1* || "${DATABASE_URL}" == *localhost* ]]; then
  if ! pg_isready -q -h 127.0.0.1 -p 5432; then
    log "starting PostgreSQL"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start
    for _ in $(seq 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
  fi
fi
if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  log "starting Redis"
  mkdir -p /var/lib/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no --dir /var/lib/redis
  for _ in $(seq 30); do redis-cli -h 127.0.0.1 ping >/dev/null 2>&1 && break; sleep 1; done
fi

# --- Python ---------------------------------------------------------------------------
PYTHON=${PYTHON:-$(command -v python3.11 || command -v python3)}
if [ ! -x .venv/bin/python ]; then
  log "creating .venv with $($PYTHON --version)"
  "$PYTHON" -m venv .venv
fi
stamp=.venv/.requirements.sha256
want=$(sha256sum requirements.txt | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  log "installing Python packages from requirements.txt"
  .venv/bin/pip install -q --disable-pip-version-check -r requirements.txt 2> >(grep -v "is ignored: it is neither" >&2)
  echo "$want" > "$stamp"
fi

# --- Node packages --------------------------------------------------------------------
# Each folder pins its packages with a package-lock.json and is reinstalled only when the
# lock changes: ui/ (htmx, Chart.js for the web UI), tools/azurite/ (the Azure Blob emulator
# the storage tests start), tools/tessdata/ (Tesseract's best_int models, below).
for folder in ui tools/azurite tools/tessdata; do
  if ! cmp -s "$folder/package-lock.json" "$folder/node_modules/.installed-lock.json" 2>/dev/null; then
    log "installing npm packages of $folder"
    npm ci --prefix "$folder" --no-audit --no-fund --loglevel=error
    cp "$folder/package-lock.json" "$folder/node_modules/.installed-lock.json"
  fi
done

# --- Tesseract data -------------------------------------------------------------------
# .tessdata/ (what dam/checks/ocr.py reads unless TESSDATA_PREFIX says otherwise): Debian's packs,
# symlinked, with the tessdata_best_int models pinned in tools/tessdata/ for the scripts Debian's
# fast models misread (docs/checks-accuracy.md). Rebuilt when that lock or the list of Debian packs changes (a
# pack added to the list is linked only by a rebuild).
if ! cat tools/tessdata/package-lock.json tools/tessdata/apt-packages.txt | cmp -s - .tessdata/.installed 2>/dev/null; then
  log "building .tessdata (Debian's Tesseract packs + best_int models)"
  bash tools/tessdata/install.sh .tessdata
fi
