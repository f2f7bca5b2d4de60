#!/usr/bin/env bash
# The project's test command: install meshc and its test and lint
# dependencies into .venv, build the pinned Go tools (OPA, etcd,
# kube-apiserver, vap-status-controller, istioctl), run the static checks (tools/lint.sh: ruff,
# import layers, strict mypy) and the whole test suite. Arguments are passed
# to pytest.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# The Go builds are CPU-bound and pip mostly waits on the registry: run both
# at once. A tool that is already built at its pin is skipped in no time.
bash tools/build.sh &
build=$!

python="${PYTHON:-python3}"
[[ -x .venv/bin/python ]] || "$python" -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[test,dev]'

if ! wait "$build"; then
    echo "tools/test.sh: building the Go tools failed (see above)" >&2
    exit 1
fi

bash tools/lint.sh
exec .venv/bin/python -m pytest "$@"
