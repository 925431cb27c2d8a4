#!/usr/bin/env bash
# Regenerates the hash locks from pyproject.toml (and build.in): run it after changing a requirement there.
#
#   requirements/compile.sh                  keep every pin that still satisfies pyproject.toml
#   requirements/compile.sh --upgrade        move every pin to the newest release within pyproject's ranges
#   requirements/compile.sh -P flask         move one package only
#
# The locks are resolved for Linux and CPython 3.11 (Debian 12); the same pins are what 3.12 and 3.13 (Ubuntu 24.04)
# resolve to, and each pin carries the hashes of all its published files (every Python version and architecture).
# uv is used from PATH, or installed once into a scratch venv under /tmp (never into .venv). uv reads no pip
# configuration, and --no-config makes it ignore uv.toml files too: the locks name only the public index's files.
set -euo pipefail
cd "$(dirname "$0")/.."
UV_VERSION=0.13.8
uv=$(command -v uv || true)
if [ -z "$uv" ]; then
  tools=${TMPDIR:-/tmp}/hallq-lock-tools
  [ -x "$tools/bin/uv" ] || { python3 -m venv "$tools" && "$tools/bin/python" -m pip install -q "uv==$UV_VERSION"; }
  uv=$tools/bin/uv
fi
compile() {  # compile <output> <extra args...>
  local out=$1; shift
  "$uv" pip compile --quiet --no-config --python-platform linux --python-version 3.11 --generate-hashes \
    --custom-compile-command "requirements/compile.sh" "$@" -o "$out"
}
# runtime + tests first; the runtime lock is then constrained to it, so both pin a package at the same version
compile requirements/test.lock pyproject.toml requirements/build.in --extra test "$@"
compile requirements/hallq.lock pyproject.toml requirements/build.in -c requirements/test.lock
echo "wrote requirements/test.lock and requirements/hallq.lock" >&2
