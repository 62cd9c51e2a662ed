#!/usr/bin/env bash
# One command from a fresh clone to the running kiosk demo (windowed, embedded defaults).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh kiosk
exec .venv/bin/moodkiosk demo "$@"
