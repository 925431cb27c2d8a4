#!/usr/bin/env bash
# Builds a wheelhouse: every wheel a lock names (hash-checked) plus hallq's own wheel and the locks themselves, in one
# folder to carry to a hall whose LAN has no internet (docs/deployment.md, "Installing without internet").
#
#   requirements/wheelhouse.sh DIR                           what ./run.sh setup installs (runtime + tests)
#   requirements/wheelhouse.sh DIR requirements/hallq.lock   the runtime only (a hall's machines)
#
# Run it on a machine with internet and the same architecture and Python minor version as the hall's (Debian 12:
# x86_64 or aarch64, CPython 3.11): pip takes the wheels for the Python that runs it. Uses .venv's pip when there is
# one (./run.sh setup made it), else python3's; PYTHON=/path/to/python chooses.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=$(realpath -m "${1:?usage: requirements/wheelhouse.sh DIR [LOCK]}")
lock=${2:-requirements/test.lock}
py=${PYTHON:-}
[ -n "$py" ] || { [ -x .venv/bin/python ] && py=.venv/bin/python || py=python3; }
mkdir -p "$dir"
"$py" -m pip download -q --require-hashes --only-binary=:all: -r "$lock" -d "$dir"
# hallq itself, built in an isolated environment made from the wheelhouse alone (so with the locked setuptools), from
# a copy of the work tree's files that git tracks or would track (no stale build/ output, no .venv) in a git checkout
src=.
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  src=$(mktemp -d); trap 'rm -rf "$src"' EXIT
  git ls-files -z --cached --others --exclude-standard | tar --null -T - --ignore-failed-read -cf - 2>/dev/null \
    | tar -x -C "$src"
fi
"$py" -m pip wheel -q --no-deps --no-index --find-links "$dir" "$src" -w "$dir"
cp requirements/hallq.lock requirements/test.lock "$dir"/
echo "wheelhouse $dir: $(find "$dir" -name '*.whl' | wc -l) wheels; on the hall's machine:" >&2
echo "  HALLQ_WHEELHOUSE=$dir ./run.sh setup    (a source checkout), or into any venv:" >&2
echo "  pip install --no-index --find-links $dir --require-hashes -r $dir/hallq.lock" >&2
echo "  pip install --no-index --find-links $dir --no-deps hallq" >&2
