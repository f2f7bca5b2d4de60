#!/usr/bin/env bash
# Before a release is published: the tag (vX.Y.Z) names the version of the
# Python package, the chart and the chart's appVersion (the image tag), and the
# examples pin that release. Usage: tools/release-check.sh vX.Y.Z
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
tag="${1:?usage: tools/release-check.sh vX.Y.Z}"
version="${tag#v}"
fail=0
check() {  # what, found
    if [[ "$2" != "$version" ]]; then
        echo "release-check: $1 is $2, the tag $tag says $version" >&2
        fail=1
    fi
}
check "pyproject.toml version" "$(sed -n 's/^version = "\(.*\)"$/\1/p' pyproject.toml)"
check "charts/meshc/Chart.yaml version" "$(sed -n 's/^version: *//p' charts/meshc/Chart.yaml)"
check "charts/meshc/Chart.yaml appVersion" "$(sed -n 's/^appVersion: *"\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' charts/meshc/Chart.yaml)"
check "examples/gitops/.pre-commit-config.yaml rev" "$(sed -n 's/^ *rev: *v\([^ ]*\).*$/\1/p' examples/gitops/.pre-commit-config.yaml)"
exit "$fail"
