#!/usr/bin/env bash
# Set up moodkiosk on a fresh Debian machine: system packages (when missing), a virtual environment
# in .venv and the project with the extras asked for. Idempotent: a second run installs nothing new.
#   scripts/setup.sh                 # kiosk runtime only (what `moodkiosk demo` needs)
#   scripts/setup.sh dev             # + central server, Spark, tests, training tools, test services
set -euo pipefail
cd "$(dirname "$0")/.."
profile="${1:-kiosk}"

# python3-venv: Debian's python3 has no ensurepip without it, and `python3 -m venv` leaves a .venv without pip.
# Shared libraries that Qt's offscreen/xcb platform and OpenCV/mediapipe load at run time.
apt_runtime=(python3 python3-venv libgl1 libegl1 libglib2.0-0 libxkbcommon0 libfontconfig1 libdbus-1-3 fonts-dejavu-core
             libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1)  # the last three: Qt's X11 (xcb) screen plugin
# Real services the tests start themselves: MQTT broker, PostgreSQL, headless browser.
# strace records every connect() of the kiosk in the privacy test.
apt_dev=(mosquitto postgresql chromium opencv-data strace)
# Java for offers-build --engine spark (pyspark in local mode in the tests).
apt_dev+=(default-jre-headless)
# The kiosk's screen tests: a bare X server without a window manager, as in a store.
apt_dev+=(xvfb x11-utils x11-xserver-utils)
# The sessions the shipped kiosk units start, so that `systemd-analyze verify` checks them for real.
apt_dev+=(xinit xserver-xorg-core cage)

need=()
want=("${apt_runtime[@]}")
[ "$profile" = dev ] && want+=("${apt_dev[@]}")
for pkg in "${want[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
    echo "setup: installing Debian packages: ${need[*]}"
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    if [ -n "$SUDO" ] && ! command -v sudo >/dev/null 2>&1; then
        echo "setup: installing ${need[*]} needs root: run setup as root once, or install sudo" >&2; exit 1
    fi
    one=$([ ${#need[@]} -eq 1 ] && echo it || echo them)
    # apt's own E: lines come first; this line says what setup needed and what to do.
    { $SUDO apt-get update -qq \
        && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
    } || { echo "setup: apt-get could not install ${need[*]} (no network or no apt source?); install $one and" \
                "run setup again" >&2; exit 1; }
    # Debian starts mosquitto as a system service on port 1883; the tests start their own brokers.
    if [ "$profile" = dev ] && command -v systemctl >/dev/null 2>&1; then
        $SUDO systemctl disable --now mosquitto >/dev/null 2>&1 || true
    fi
fi

PY="${PYTHON:-python3}"
# A .venv without pip (python3-venv missing, or a full disk while it was made) is made again, not used forever.
if ! { [ -x .venv/bin/python ] && .venv/bin/python -m pip --version >/dev/null 2>&1; }; then
    rm -rf .venv
    "$PY" -m venv .venv || { rm -rf .venv; echo "setup: $PY -m venv .venv failed (python3-venv missing, or the disk" \
                                                "full or read-only?)" >&2; exit 1; }
fi
stamp=".venv/.installed-$profile"
# A stamp counts while it is newer than pyproject.toml; `dev` installs everything `kiosk` needs, so after
# scripts/test.sh the first scripts/demo.sh only checks instead of reinstalling.
current() { [ -f "$1" ] && [ ! pyproject.toml -nt "$1" ]; }
if current "$stamp" || { [ "$profile" = kiosk ] && current .venv/.installed-dev; }; then
    :
else
    extras="kiosk"; [ "$profile" = dev ] && extras="kiosk,central,train,dev,spark"
    { .venv/bin/python -m pip install -q --upgrade pip && .venv/bin/python -m pip install -q -e ".[$extras]"; } \
        || { echo "setup: pip could not install the project into .venv (no network to the package index, or a" \
                  "full disk?); fix it and run setup again" >&2; exit 1; }
    touch "$stamp"
fi
echo "setup: ready ($profile) in .venv"
