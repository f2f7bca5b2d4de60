#!/usr/bin/env bash
# Build the pinned upstream Go tools the `tools`-marked tests run against.
#
#   tools/build.sh                       # every tool
#   tools/build.sh opa kube-apiserver    # a subset
#   TOOLS_BIN=/some/dir tools/build.sh   # somewhere other than .tools/bin
#
# A tool is skipped when its binary is present and its stamp records the same
# pin, so a second run costs nothing. Go's default module and build caches are
# used on purpose: CI shares them with everything else on the machine.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS_BIN="${TOOLS_BIN:-$REPO/.tools/bin}"
STAMPS="$TOOLS_BIN/.stamps"

OPA_VERSION="v1.22.3"
# kube-apiserver and etcd are pinned by tools/kube/go.mod and tools/etcd/go.mod
# (with their go.sum); these must name the same releases.
KUBE_VERSION="v1.36.3"
ETCD_VERSION="v3.6.16"
# The Go proxy serves no tagged istio.io/istio version (Istio tags are not
# semver module versions), only pseudo-versions of master commits.
ISTIO_VERSION="v0.0.0-20260827124520-eed52ebb66ad"

ALL_TOOLS=(opa kube-apiserver vap-status-controller etcd istioctl)

# Static, stripped binaries: no C toolchain needed and less to link.
export CGO_ENABLED=0
export GOTOOLCHAIN=local
GO_BUILD_FLAGS=(-trimpath -buildvcs=false)

log() { printf 'tools/build.sh: %s\n' "$*" >&2; }

# The pin a binary was built from; a change (or a new Go) means a rebuild.
pin_of() {
    local tool=$1 go_version
    go_version="$(go env GOVERSION)"
    case "$tool" in
        opa) echo "opa $OPA_VERSION $go_version" ;;
        kube-apiserver) echo "kube $KUBE_VERSION $go_version $(cat "$REPO/tools/kube/go.mod" "$REPO/tools/kube/go.sum" | sha256sum | cut -c1-16)" ;;
        vap-status-controller) echo "kube $KUBE_VERSION $go_version $(cat "$REPO/tools/kube/go.mod" "$REPO/tools/kube/go.sum" "$REPO/tools/kube/vap-status-controller/main.go" | sha256sum | cut -c1-16)" ;;
        etcd) echo "etcd $ETCD_VERSION $go_version $(cat "$REPO/tools/etcd/go.mod" "$REPO/tools/etcd/go.sum" | sha256sum | cut -c1-16)" ;;
        istioctl) echo "istio $ISTIO_VERSION $go_version" ;;
    esac
}

up_to_date() {
    local tool=$1
    [[ -x "$TOOLS_BIN/$tool" && -f "$STAMPS/$tool" ]] && [[ "$(cat "$STAMPS/$tool")" == "$(pin_of "$tool")" ]]
}

build_opa() {
    GOBIN="$TOOLS_BIN" go install "${GO_BUILD_FLAGS[@]}" -ldflags="-s -w" \
        "github.com/open-policy-agent/opa@$OPA_VERSION"
}

build_kube_apiserver() {
    local v=k8s.io/component-base/version minor
    minor="${KUBE_VERSION#v1.}"
    minor="${minor%%.*}"
    # Without these the server reports v0.0.0-master; the values are what the
    # upstream release build stamps in.
    (cd "$REPO/tools/kube" && go build "${GO_BUILD_FLAGS[@]}" -mod=readonly \
        -ldflags="-s -w -X $v.gitVersion=$KUBE_VERSION -X $v.gitMajor=1 -X $v.gitMinor=$minor -X $v.gitTreeState=clean" \
        -o "$TOOLS_BIN/kube-apiserver" k8s.io/kubernetes/cmd/kube-apiserver)
}

# kube-controller-manager's ValidatingAdmissionPolicy status controller alone
# (tools/kube/vap-status-controller): it writes status.typeChecking, which the
# e2e tests read; the whole kube-controller-manager would pull in the kubelet.
build_vap_status_controller() {
    (cd "$REPO/tools/kube" && go build "${GO_BUILD_FLAGS[@]}" -mod=readonly -ldflags="-s -w" \
        -o "$TOOLS_BIN/vap-status-controller" ./vap-status-controller)
}

build_etcd() {
    (cd "$REPO/tools/etcd" && go build "${GO_BUILD_FLAGS[@]}" -mod=readonly -ldflags="-s -w" \
        -o "$TOOLS_BIN/etcd" go.etcd.io/etcd/server/v3)
}

build_istioctl() {
    local p=istio.io/istio/pkg/version
    GOBIN="$TOOLS_BIN" go install "${GO_BUILD_FLAGS[@]}" \
        -ldflags="-s -w -X $p.buildVersion=$ISTIO_VERSION -X $p.buildGitRevision=${ISTIO_VERSION##*-} -X $p.buildStatus=Clean" \
        "istio.io/istio/istioctl/cmd/istioctl@$ISTIO_VERSION"
}

main() {
    local tools=("$@") tool start elapsed total_start
    ((${#tools[@]})) || tools=("${ALL_TOOLS[@]}")
    for tool in "${tools[@]}"; do
        [[ " ${ALL_TOOLS[*]} " == *" $tool "* ]] || {
            log "unknown tool '$tool' (known: ${ALL_TOOLS[*]})"
            exit 2
        }
    done
    command -v go >/dev/null || { log "go is not on PATH"; exit 1; }
    mkdir -p "$TOOLS_BIN" "$STAMPS"

    total_start=$SECONDS
    for tool in "${tools[@]}"; do
        if up_to_date "$tool"; then
            log "$tool: up to date ($(pin_of "$tool"))"
            continue
        fi
        log "$tool: building $(pin_of "$tool")"
        start=$SECONDS
        rm -f "$STAMPS/$tool"
        "build_${tool//-/_}"
        pin_of "$tool" >"$STAMPS/$tool"
        elapsed=$((SECONDS - start))
        log "$tool: built in ${elapsed}s -> $TOOLS_BIN/$tool"
    done
    log "done in $((SECONDS - total_start))s"
}

main "$@"
