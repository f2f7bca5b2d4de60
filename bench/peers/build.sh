#!/usr/bin/env bash
# Build the pinned peers meshc is compared with (bench/bench_peers.py), from
# the Go module proxy only, into a folder of their own that git ignores.
#
#   bench/peers/build.sh                  # every peer
#   bench/peers/build.sh conftest gator   # a subset
#   PEERS_DIR=/some/dir bench/peers/build.sh
#
# Never run by CI or tools/build.sh: a cold build takes about 12 minutes of
# two cores and about 3.6 GB of module cache. Everything goes under
# $PEERS_DIR (default .bench-tools/ at the top of the repository): bin/, the
# Go module cache (gomod/), the build cache (gocache/) and the Kyverno source
# copy (src/), so `rm -rf .bench-tools` undoes it. A peer whose binary is there
# and whose stamp records the same pin is skipped. etcd and kube-apiserver are
# the project's own (tools/build.sh), not built here.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PEERS_DIR="${PEERS_DIR:-$REPO/.bench-tools}"
BIN="$PEERS_DIR/bin"
STAMPS="$BIN/.stamps"

CONFTEST_VERSION="v0.71.1"
GATEKEEPER_VERSION="v3.23.1"
KYVERNO_VERSION="v1.19.1"

ALL_PEERS=(conftest gator gatekeeper kyverno-cli kyverno)

export GOMODCACHE="$PEERS_DIR/gomod"
export GOCACHE="$PEERS_DIR/gocache"
export GOPATH="$PEERS_DIR/gopath"
export GOPROXY="https://proxy.golang.org"
export GOFLAGS="-buildvcs=false -modcacherw"
export CGO_ENABLED=0
export GOTOOLCHAIN=local
GO_BUILD_FLAGS=(-trimpath -ldflags=-s\ -w)
NICE=(nice -n "${PEERS_NICE:-15}")

log() { printf 'bench/peers/build.sh: %s\n' "$*" >&2; }

pin_of() {
    local go_version
    go_version="$(go env GOVERSION)"
    case "$1" in
        conftest) echo "conftest $CONFTEST_VERSION $go_version" ;;
        gator | gatekeeper) echo "gatekeeper $GATEKEEPER_VERSION $go_version" ;;
        kyverno-cli | kyverno) echo "kyverno $KYVERNO_VERSION $go_version" ;;
    esac
}

up_to_date() {
    [[ -x "$BIN/$1" && -f "$STAMPS/$1" ]] && [[ "$(cat "$STAMPS/$1")" == "$(pin_of "$1")" ]]
}

build_conftest() {
    GOBIN="$BIN" "${NICE[@]}" go install "${GO_BUILD_FLAGS[@]}" \
        "github.com/open-policy-agent/conftest@$CONFTEST_VERSION"
}

build_gator() {
    GOBIN="$BIN" "${NICE[@]}" go install "${GO_BUILD_FLAGS[@]}" \
        "github.com/open-policy-agent/gatekeeper/v3/cmd/gator@$GATEKEEPER_VERSION"
}

# The module root's main package is the Gatekeeper manager (webhook, audit,
# controllers); go install names a /vN module's command after the element
# before vN (cmd/go's DefaultExecName): gatekeeper.
build_gatekeeper() {
    GOBIN="$BIN" "${NICE[@]}" go install "${GO_BUILD_FLAGS[@]}" \
        "github.com/open-policy-agent/gatekeeper/v3@$GATEKEEPER_VERSION"
}

# Kyverno's go.mod has a replace directive, so go install refuses it: download
# the module from the proxy and build inside a writable copy.
kyverno_source() {
    local dir src="$PEERS_DIR/src/kyverno-$KYVERNO_VERSION"
    if [[ ! -f "$src/go.mod" ]]; then
        dir="$(go mod download -json "github.com/kyverno/kyverno@$KYVERNO_VERSION" |
            python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')"
        rm -rf "$src"
        mkdir -p "$(dirname "$src")"
        cp -r "$dir" "$src"
        chmod -R u+w "$src"
    fi
    echo "$src"
}

build_kyverno_cli() {
    local src
    src="$(kyverno_source)"
    (cd "$src" && "${NICE[@]}" go build "${GO_BUILD_FLAGS[@]}" -mod=mod \
        -o "$BIN/kyverno-cli" ./cmd/cli/kubectl-kyverno)
}

build_kyverno() {
    local src
    src="$(kyverno_source)"
    (cd "$src" && "${NICE[@]}" go build "${GO_BUILD_FLAGS[@]}" -mod=mod \
        -o "$BIN/kyverno" ./cmd/kyverno)
}

main() {
    local peers=("$@") peer start total_start
    ((${#peers[@]})) || peers=("${ALL_PEERS[@]}")
    for peer in "${peers[@]}"; do
        [[ " ${ALL_PEERS[*]} " == *" $peer "* ]] || {
            log "unknown peer '$peer' (known: ${ALL_PEERS[*]})"
            exit 2
        }
    done
    command -v go >/dev/null || { log "go is not on PATH"; exit 1; }
    mkdir -p "$BIN" "$STAMPS"
    total_start=$SECONDS
    for peer in "${peers[@]}"; do
        if up_to_date "$peer"; then
            log "$peer: up to date ($(pin_of "$peer"))"
            continue
        fi
        log "$peer: building $(pin_of "$peer")"
        start=$SECONDS
        rm -f "$STAMPS/$peer"
        "build_${peer//-/_}"
        pin_of "$peer" >"$STAMPS/$peer"
        log "$peer: built in $((SECONDS - start))s -> $BIN/$peer"
    done
    log "done in $((SECONDS - total_start))s; $(du -sh "$PEERS_DIR" | cut -f1) in $PEERS_DIR"
}

main "$@"
