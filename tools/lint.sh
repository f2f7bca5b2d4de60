#!/usr/bin/env bash
# The static checks CI runs before the tests: ruff (lint and format), the
# import layers (import-linter, contracts in pyproject.toml) and strict mypy
# over the whole meshc package. Expects the venv tools/test.sh builds.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bin=.venv/bin
"$bin/ruff" check --quiet .
"$bin/ruff" format --check --quiet .
"$bin/lint-imports" --no-cache >/dev/null || "$bin/lint-imports" --no-cache
"$bin/mypy"
echo "tools/lint.sh: ruff, import layers and mypy are clean"
