#!/usr/bin/env bash
# Builds kube-controller-manager and kube-scheduler from the same k8s.io/kubernetes module
# version as scripts/k8s-binaries.sh (reusing its module workspace, created by running that
# script if it is missing), and KWOK (fake nodes and pod lifecycle) with `go install`.
# Idempotent: binaries already in the cache are kept. Prints the directory holding the
# Kubernetes binaries on its last line; kwok lands in the same directory.
# Not wired into scripts/test-deps.sh (spike for readiness gating).
set -euo pipefail

K8S_VERSION="${TIDEWAY_K8S_VERSION:-v1.36.3}"
KWOK_VERSION="${TIDEWAY_KWOK_VERSION:-v0.8.0}"
CACHE_ROOT="${TIDEWAY_CACHE:-$HOME/.cache/tideway}"
ASSETS="$CACHE_ROOT/k8s/$K8S_VERSION"
WORK="$CACHE_ROOT/build"
MOD="$WORK/kubernetes-$K8S_VERSION"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

log() { echo "[workload-binaries] $*" >&2; }

command -v go >/dev/null || { log "Go is required to build the test binaries"; exit 1; }
export GOFLAGS="${GOFLAGS:--mod=mod}"

# The module workspace (go.mod pinning the staging modules to their tags) belongs to
# k8s-binaries.sh; let it create the workspace and the API server if they are not there yet.
if [[ ! -f "$MOD/go.sum" || ! -x "$ASSETS/kube-apiserver" ]]; then
  log "kubernetes module workspace or kube-apiserver missing; running k8s-binaries.sh"
  TIDEWAY_K8S_VERSION="$K8S_VERSION" "$HERE/k8s-binaries.sh" >/dev/null
fi
mkdir -p "$ASSETS"

build_kube() {
  local bin="$1" pkg="$2"
  [[ -x "$ASSETS/$bin" ]] && { log "$bin: cached"; return; }
  log "building $bin (several minutes on 2 cores, once)"
  local start=$SECONDS
  (cd "$MOD" && CGO_ENABLED=0 go build -o "$ASSETS/$bin.tmp" "$pkg") && mv "$ASSETS/$bin.tmp" "$ASSETS/$bin"
  log "$bin built in $((SECONDS - start))s"
}

build_kwok() {
  [[ -x "$ASSETS/kwok" ]] && { log "kwok: cached"; return; }
  log "building kwok $KWOK_VERSION"
  local start=$SECONDS tmp
  tmp="$(mktemp -d "$WORK/kwok-bin.XXXXXX")"
  # `go install pkg@version` ignores any go.mod in the working directory; run it from $WORK.
  (cd "$WORK" && CGO_ENABLED=0 GOFLAGS= GOBIN="$tmp" go install "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION") \
    && mv "$tmp/kwok" "$ASSETS/kwok"
  rm -rf "$tmp"
  log "kwok built in $((SECONDS - start))s"
}

build_kube kube-controller-manager k8s.io/kubernetes/cmd/kube-controller-manager
build_kube kube-scheduler k8s.io/kubernetes/cmd/kube-scheduler
build_kwok
log "workload binaries ready in $ASSETS"
echo "$ASSETS"
