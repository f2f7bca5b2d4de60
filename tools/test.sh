#!/usr/bin/env bash
# The project's test command: install meshc and its test dependencies into
# .venv, build the pinned Go tools (OPA, etcd, kube-apiserver, istioctl), and
# run the whole test suite. Arguments are passed to pytest.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

python="${PYTHON:-python3}"
[[ -x .venv/bin/python ]] || "$python" -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[test]'

bash tools/build.sh

exec .venv/bin/python -m pytest "$@"
