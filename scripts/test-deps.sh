#!/usr/bin/env bash
# Installs everything the test suite and the demo need on a fresh machine of this kind: Debian's
# redis-server and redis-sentinel (the Sentinel fail-over test), prometheus, openssl, git and
# openssh-server (the SSH git server of the git auth tests), chromium (the dashboard's browser
# tests); etcd, kube-apiserver, kubectl, and
# for workloads kube-controller-manager, kube-scheduler and KWOK, built from the Go module proxy
# (cached in ~/.cache/tideway; about 10 minutes on 2 cores the first time, instant after); and the
# Gateway API CRDs (sigs.k8s.io/gateway-api, the same proxy); and the npm dependencies. Idempotent.
# `test-deps.sh packages`: only Debian's packages and npm (quick); `test-deps.sh binaries`: only the
# Go-built binaries and the CRDs (the slow part, which scripts/test.sh runs beside the static checks).
set -euo pipefail
cd "$(dirname "$0")/.."
part="${1:-all}"

binaries() {
  bash scripts/k8s-binaries.sh >/dev/null
  bash scripts/gateway-api-crds.sh >/dev/null
  bash scripts/helm-binary.sh >/dev/null
}
if [[ "$part" == binaries ]]; then
  binaries
  exit 0
fi

missing=()
command -v redis-server >/dev/null || missing+=(redis-server)
command -v redis-sentinel >/dev/null || missing+=(redis-sentinel)
command -v prometheus >/dev/null || missing+=(prometheus)
command -v openssl >/dev/null || missing+=(openssl)
command -v git >/dev/null || missing+=(git)
command -v unzip >/dev/null || missing+=(unzip)
command -v ssh-keygen >/dev/null || missing+=(openssh-client)
# Tests start their own sshd on a loopback port with their own config; the package's service on
# port 22 (if its postinst starts one) is not used.
command -v /usr/sbin/sshd >/dev/null || missing+=(openssh-server)
# The dashboard's browser tests drive Debian's headless Chromium (playwright-core downloads nothing).
command -v chromium >/dev/null || missing+=(chromium)
if ((${#missing[@]})); then
  echo "[test-deps] installing ${missing[*]} from Debian" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [[ ! -d node_modules ]] || [[ package-lock.json -nt node_modules/.package-lock.json ]]; then
  echo "[test-deps] npm ci" >&2
  npm ci --no-audit --no-fund >/dev/null
fi

if [[ "$part" != packages ]]; then
  binaries
fi
