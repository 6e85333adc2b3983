#!/usr/bin/env bash
# Builds helm once from the Go module proxy into a cache outside the repository, the way
# k8s-binaries.sh builds the Kubernetes binaries. Idempotent: a cached binary is kept.
# Prints the binary's path on its last line. Skipped when TIDEWAY_HELM points at an executable.
set -euo pipefail

HELM_VERSION="${TIDEWAY_HELM_VERSION:-v3.19.5}"
CACHE_ROOT="${TIDEWAY_CACHE:-$HOME/.cache/tideway}"
BIN_DIR="$CACHE_ROOT/helm/$HELM_VERSION"

log() { echo "[helm-binary] $*" >&2; }

if [[ -n "${TIDEWAY_HELM:-}" && -x "$TIDEWAY_HELM" ]]; then
  log "using TIDEWAY_HELM=$TIDEWAY_HELM"
  echo "$TIDEWAY_HELM"
  exit 0
fi
if [[ -x "$BIN_DIR/helm" ]]; then
  log "helm $HELM_VERSION: cached"
  echo "$BIN_DIR/helm"
  exit 0
fi

command -v go >/dev/null || { log "Go is required to build helm"; exit 1; }
export GOFLAGS="${GOFLAGS:--mod=mod}"
mod="$CACHE_ROOT/build/helm-$HELM_VERSION"
mkdir -p "$mod" "$BIN_DIR"
if [[ ! -f "$mod/go.sum" ]]; then
  log "downloading helm.sh/helm/v3@$HELM_VERSION"
  printf 'module tideway.local/helmbuild\ngo 1.24\nrequire helm.sh/helm/v3 %s\n' "$HELM_VERSION" > "$mod/go.mod"
  printf '//go:build tools\n\npackage tools\n\nimport _ "helm.sh/helm/v3/cmd/helm"\n' > "$mod/tools.go"
  (cd "$mod" && go mod tidy >&2)
fi
log "building helm $HELM_VERSION (a few minutes on 2 cores, once)"
start=$SECONDS
# As helm's Makefile does: its own version, and the Kubernetes version `helm template` and
# `helm lint` assume (from its client-go; the source default is v1.20, which fails kubeVersion checks).
client_go="$(cd "$mod" && go list -m -f '{{.Version}}' k8s.io/client-go)"  # v0.34.2 -> 1.34
k8s_minor="$(echo "$client_go" | cut -d. -f2)"
ldflags="-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION"
for pkg in helm.sh/helm/v3/pkg/chartutil helm.sh/helm/v3/pkg/lint/rules; do
  ldflags+=" -X $pkg.k8sVersionMajor=1 -X $pkg.k8sVersionMinor=$k8s_minor"
done
(cd "$mod" && CGO_ENABLED=0 go build -ldflags "$ldflags" -o "$BIN_DIR/helm.tmp" helm.sh/helm/v3/cmd/helm) \
  && mv "$BIN_DIR/helm.tmp" "$BIN_DIR/helm"
log "helm built in $((SECONDS - start))s"
echo "$BIN_DIR/helm"
