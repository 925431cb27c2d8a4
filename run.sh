#!/usr/bin/env bash
# hallq: set everything up, then start the hall or run the tests.
#
#   ./run.sh start     install what is missing, then start the whole demo hall (demo mode: the
#                      sample halls' demo credentials are allowed, see docs/deployment.md)
#   ./run.sh test      install what is missing, then run the whole test suite
#   ./run.sh setup     only install
#   HALLQ_WHEELHOUSE=/dir ./run.sh setup   install the Python packages from a wheelhouse, without internet
#
# Installs the Debian/Ubuntu packages the hall needs with apt-get (as root, or
# through sudo), and the Python packages in a virtual environment in .venv, at the
# versions and hashes of requirements/test.lock.
set -euo pipefail
# a wheelhouse given relative to where run.sh was called from
if [ -n "${HALLQ_WHEELHOUSE:-}" ]; then HALLQ_WHEELHOUSE=$(realpath -m -- "$HALLQ_WHEELHOUSE"); fi
cd "$(dirname "$0")"

# Debian packages:
#  mosquitto                        the broker for the tests (a hall runs its own in production)
#  espeak-ng, sox, alsa-utils       offline Mandarin voice, chimes and audio checks, playback on ALSA
#  pulseaudio, pulseaudio-utils     playback on PulseAudio (the tests play into a null sink)
#  fonts-wqy-microhei               a CJK font: without it Kivy draws boxes
#  fonts-babelstone-han fonts-hanazono  rare characters of names (生僻字, CJK Ext A-H) that WenQuanYi lacks:
#                                   the kiosk's and the board's fallback, the printer's raster lines (hallq/fonts.py)
#  libgl1 libegl1 libgl1-mesa-dri   OpenGL for Kivy (Mesa renders offscreen when there is no screen)
#  libmtdev1                        touch screens for Kivy
#  chromium chromium-driver         the browser tests of the consoles and the ticket page
#  socat                            pseudo-terminal pairs for the serial-device tests
#  systemd                          systemd-analyze, which verifies the shipped units (deploy/systemd)
#  postgresql                       the county platform's database (hallq platform); the tests run their own
#                                   cluster with its initdb and pg_ctl (docs/county.md)
#  nats-server                      the county's clustered broker, with its MQTT gateway (docs/county.md)
APT_PACKAGES=(python3-venv mosquitto espeak-ng sox alsa-utils pulseaudio pulseaudio-utils fonts-wqy-microhei
              fonts-babelstone-han fonts-hanazono
              libgl1 libegl1 libgl1-mesa-dri libmtdev1 chromium chromium-driver socat systemd postgresql nats-server)

need_python() {
  for py in python3.13 python3.12 python3.11 python3; do
    if command -v "$py" >/dev/null 2>&1 && "$py" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
      echo "$py"; return 0
    fi
  done
  echo "hallq needs Python 3.11 or newer (Debian 12 and Ubuntu 24.04 have it)." >&2
  return 1
}

setup_system() {
  local missing=()
  for p in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "Installing Debian packages: ${missing[*]}" >&2
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then sudo="sudo"; else
      echo "Please install as root: apt-get install -y ${missing[*]}" >&2; return 1
    fi
  fi
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

setup_python() {
  local py; py=$(need_python)
  [ -x .venv/bin/python ] || "$py" -m venv .venv
  # Exact versions with their hashes from the lock (requirements/compile.sh makes it from pyproject.toml), then the
  # project itself without dependencies (pip refuses an unhashed requirement in a hashed install), built with the
  # locked setuptools. HALLQ_WHEELHOUSE=/dir installs from a folder of wheels without any index (docs/deployment.md,
  # "Installing without internet"). Reinstall only when the requirements or the lock changed.
  local lock=requirements/test.lock src=()
  if [ -n "${HALLQ_WHEELHOUSE:-}" ]; then
    if [ ! -d "$HALLQ_WHEELHOUSE" ]; then
      echo "HALLQ_WHEELHOUSE=$HALLQ_WHEELHOUSE is not a folder: build one with requirements/wheelhouse.sh" >&2
      return 1
    fi
    src=(--no-index --find-links "$HALLQ_WHEELHOUSE")
  fi
  local stamp=.venv/.hallq-installed sum
  sum=$(cat pyproject.toml "$lock" | sha256sum | cut -d' ' -f1)
  if [ "$(cat "$stamp" 2>/dev/null)" != "$sum" ]; then
    .venv/bin/python -m pip install -q ${src[@]+"${src[@]}"} --require-hashes -r "$lock"
    .venv/bin/python -m pip install -q ${src[@]+"${src[@]}"} --no-deps --no-build-isolation -e .
    echo "$sum" > "$stamp"
  fi
}

cmd=${1:-help}; shift || true
case "$cmd" in
  setup) setup_system; setup_python ;;
  start) setup_system; setup_python; exec .venv/bin/hallq start --demo --virtual-clock next-open "$@" ;;
  test)  setup_system; setup_python; exec .venv/bin/python -m pytest "$@" ;;
  *) sed -n '2,9p' "$0"; exit 2 ;;
esac
