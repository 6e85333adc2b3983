#!/usr/bin/env bash
# Builds etcd, kube-apiserver and kubectl once from the Go module proxy into a cache outside
# the repository, and fetches Istio's CRDs from the istio.io/api module. Also builds what makes
# workloads run in tests: kube-controller-manager and kube-scheduler (same k8s.io/kubernetes
# module) and KWOK (fake nodes and pod lifecycle), always into the cache. Idempotent: binaries
# already in the cache are kept. Prints the directory holding the assets on its last line.
# etcd, kube-apiserver and kubectl are skipped when KUBEBUILDER_ASSETS points at a directory
# with etcd and kube-apiserver (envtest's assets have no controller-manager, scheduler or kwok).
set -euo pipefail

K8S_VERSION="${TIDEWAY_K8S_VERSION:-v1.36.3}"
ETCD_VERSION="${TIDEWAY_ETCD_VERSION:-v3.6.16}"
ISTIO_API_VERSION="${TIDEWAY_ISTIO_API_VERSION:-v1.31.4}"
KWOK_VERSION="${TIDEWAY_KWOK_VERSION:-v0.8.0}"
CACHE_ROOT="${TIDEWAY_CACHE:-$HOME/.cache/tideway}"
ASSETS="$CACHE_ROOT/k8s/$K8S_VERSION"
CACHE_ASSETS="$ASSETS"

log() { echo "[k8s-binaries] $*" >&2; }

if [[ -n "${KUBEBUILDER_ASSETS:-}" && -x "$KUBEBUILDER_ASSETS/etcd" && -x "$KUBEBUILDER_ASSETS/kube-apiserver" ]]; then
  log "using KUBEBUILDER_ASSETS=$KUBEBUILDER_ASSETS"
  ASSETS="$KUBEBUILDER_ASSETS"
fi
mkdir -p "$ASSETS" "$CACHE_ASSETS"

command -v go >/dev/null || { log "Go is required to build the test binaries"; exit 1; }
export GOFLAGS="${GOFLAGS:--mod=mod}"
WORK="$CACHE_ROOT/build"
mkdir -p "$WORK"

# build_kube <dir> <binary> <package>
build_kube() {
  local dir="$1" bin="$2" pkg="$3"
  [[ -x "$dir/$bin" ]] && { log "$bin: cached"; return; }
  local mod="$WORK/kubernetes-$K8S_VERSION"
  if [[ ! -f "$mod/go.sum" ]]; then
    log "downloading k8s.io/kubernetes@$K8S_VERSION (large, once)"
    mkdir -p "$mod"
    local minor="v0.${K8S_VERSION#v1.}"
    local gomod
    gomod="$(cd "$WORK" && go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | sed -n 's/^\s*"GoMod": "\(.*\)",$/\1/p')"
    # k8s.io/kubernetes points its staging modules at ./staging; point them at their tags instead.
    {
      echo "module tideway.local/kubebuild"
      echo "go 1.24"
      echo "require k8s.io/kubernetes $K8S_VERSION"
      grep -oE '^\s*k8s\.io/[a-z0-9-]+ => \./staging/src/k8s\.io/[a-z0-9-]+' "$gomod" \
        | awk -v v="$minor" '{print "replace " $1 " => " $1 " " v}'
    } > "$mod/go.mod"
    # Every command built from here, so that go.sum covers them all.
    printf 'package main\nimport (\n_ "k8s.io/kubernetes/cmd/kube-apiserver/app"\n_ "k8s.io/kubernetes/cmd/kube-controller-manager/app"\n_ "k8s.io/kubernetes/cmd/kube-scheduler/app"\n)\n' > "$mod/tools.go"
    (cd "$mod" && go mod tidy >&2)
  fi
  log "building $bin (several minutes on 2 cores, once)"
  local start=$SECONDS
  (cd "$mod" && CGO_ENABLED=0 go build -o "$dir/$bin.tmp" "$pkg") && mv "$dir/$bin.tmp" "$dir/$bin"
  log "$bin built in $((SECONDS - start))s"
}

build_kwok() {
  [[ -x "$CACHE_ASSETS/kwok" ]] && { log "kwok: cached"; return; }
  log "building kwok $KWOK_VERSION"
  local start=$SECONDS tmp
  tmp="$(mktemp -d "$WORK/kwok-bin.XXXXXX")"
  # `go install pkg@version` ignores any go.mod in the working directory; run it from $WORK.
  (cd "$WORK" && CGO_ENABLED=0 GOFLAGS= GOBIN="$tmp" go install "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION") \
    && mv "$tmp/kwok" "$CACHE_ASSETS/kwok"
  rm -rf "$tmp"
  log "kwok built in $((SECONDS - start))s"
}

build_etcd() {
  [[ -x "$ASSETS/etcd" ]] && { log "etcd: cached"; return; }
  local mod="$WORK/etcd-$ETCD_VERSION"
  mkdir -p "$mod"
  if [[ ! -f "$mod/go.sum" ]]; then
    log "downloading go.etcd.io/etcd/server/v3@$ETCD_VERSION"
    printf 'module tideway.local/etcdbuild\ngo 1.24\nrequire go.etcd.io/etcd/server/v3 %s\n' "$ETCD_VERSION" > "$mod/go.mod"
    printf 'package main\nimport _ "go.etcd.io/etcd/server/v3/etcdmain"\n' > "$mod/tools.go"
    (cd "$mod" && go mod tidy >&2)
  fi
  log "building etcd"
  local start=$SECONDS
  (cd "$mod" && CGO_ENABLED=0 go build -o "$ASSETS/etcd.tmp" go.etcd.io/etcd/server/v3) && mv "$ASSETS/etcd.tmp" "$ASSETS/etcd"
  log "etcd built in $((SECONDS - start))s"
}

fetch_istio_crds() {
  [[ -f "$ASSETS/istio-crds.yaml" ]] && { log "istio CRDs: cached"; return; }
  log "fetching istio.io/api@$ISTIO_API_VERSION CRDs"
  local dir
  dir="$(cd "$WORK" && go mod download -json "istio.io/api@$ISTIO_API_VERSION" | sed -n 's/^\s*"Dir": "\(.*\)",$/\1/p')"
  cp "$dir/kubernetes/customresourcedefinitions.gen.yaml" "$ASSETS/istio-crds.yaml.tmp"
  chmod 644 "$ASSETS/istio-crds.yaml.tmp"
  mv "$ASSETS/istio-crds.yaml.tmp" "$ASSETS/istio-crds.yaml"
}

build_etcd
build_kube "$ASSETS" kube-apiserver k8s.io/kubernetes/cmd/kube-apiserver
build_kube "$ASSETS" kubectl k8s.io/kubernetes/cmd/kubectl
build_kube "$CACHE_ASSETS" kube-controller-manager k8s.io/kubernetes/cmd/kube-controller-manager
build_kube "$CACHE_ASSETS" kube-scheduler k8s.io/kubernetes/cmd/kube-scheduler
build_kwok
fetch_istio_crds
log "assets ready in $ASSETS"
echo "$ASSETS"
