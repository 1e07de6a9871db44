#!/usr/bin/env bash
# Builds and installs the Python module from this checkout into a venv and runs its
# pytest suite (python/tests), the part of the README's test command that covers Python.
#   tools/test_python.sh [BUILD_DIR]   BUILD_DIR: a finepose build tree whose bin/finepose,
#                                      make_demo_walk and make_demo_scene the tests compare
#                                      with (default build); without it those tests skip
# FINEPOSE_VENV=DIR chooses the venv (default build-python/venv). pip fetches the build
# tools (scikit-build-core, nanobind) from PyPI; numpy and pytest are Debian's (the venv
# sees the system's packages).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
py=/usr/bin/python3
[ -x "$py" ] || py=python3
venv=${FINEPOSE_VENV:-build-python/venv}
[ -x "$venv/bin/python" ] || "$py" -m venv --system-site-packages "$venv"
"$venv/bin/python" -m pip install -q --disable-pip-version-check ./python
# run from outside the checkout so that `import finepose` is the installed module
cd /tmp && FINEPOSE_BUILD_DIR="$OLDPWD/$build" "$OLDPWD/$venv/bin/python" -m pytest -q -p no:cacheprovider "$OLDPWD/python/tests"
