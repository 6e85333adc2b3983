#!/usr/bin/env bash
# Fetches the Gateway API CRDs from the sigs.k8s.io/gateway-api Go module (the module proxy, as
# every other test asset) into the cache outside the repository: the standard channel's CRDs, and
# the experimental channel's HTTPRoute for requestMirror's percent. Idempotent: a cached file is
# kept. Prints the file holding them on its last line (installed beside Istio's by test/env/kube.ts).
set -euo pipefail

GATEWAY_API_VERSION="${TIDEWAY_GATEWAY_API_VERSION:-v1.7.0}"
CACHE_ROOT="${TIDEWAY_CACHE:-$HOME/.cache/tideway}"
OUT="$CACHE_ROOT/gateway-api/$GATEWAY_API_VERSION"
FILE="$OUT/gateway-api-crds.yaml"

log() { echo "[gateway-api-crds] $*" >&2; }

if [[ -f "$FILE" ]]; then
  log "cached"
  echo "$FILE"
  exit 0
fi
command -v go >/dev/null || { log "Go is required to fetch the Gateway API CRDs"; exit 1; }
mkdir -p "$OUT" "$CACHE_ROOT/build"
log "fetching sigs.k8s.io/gateway-api@$GATEWAY_API_VERSION"
# Only the module's zip is needed (checked against go.sum's database by go mod download): its
# go.mod may ask for a newer Go than this machine has, which stops go from extracting it, not
# from downloading it.
json="$(cd "$CACHE_ROOT/build" && GOFLAGS=-mod=mod go mod download -json "sigs.k8s.io/gateway-api@$GATEWAY_API_VERSION" || true)"
zip="$(sed -n 's/^\s*"Zip": "\(.*\)",$/\1/p' <<<"$json")"
[[ -f "$zip" ]] || { log "download failed: $json"; exit 1; }
sum="$(sed -n 's/^\s*"Sum": "\(.*\)",$/\1/p' <<<"$json")"
[[ -n "$sum" ]] || { log "no checksum for the module: $json"; exit 1; }
extract="$(mktemp -d "$CACHE_ROOT/build/gateway-api.XXXXXX")"
trap 'rm -rf "$extract"' EXIT
unzip -q "$zip" "sigs.k8s.io/gateway-api@$GATEWAY_API_VERSION/config/crd/*" -d "$extract"
dir="$extract/sigs.k8s.io/gateway-api@$GATEWAY_API_VERSION"
[[ -d "$dir/config/crd/standard" ]] || { log "no config/crd/standard in the module"; exit 1; }
tmp="$FILE.tmp"
: > "$tmp"
for crd in "$dir"/config/crd/standard/*.yaml; do
  # The experimental channel's HTTPRoute is a superset of the standard one (requestMirror.percent).
  [[ "$(basename "$crd")" == "gateway.networking.k8s.io_httproutes.yaml" && -f "$dir/config/crd/experimental/gateway.networking.k8s.io_httproutes.yaml" ]] \
    && crd="$dir/config/crd/experimental/gateway.networking.k8s.io_httproutes.yaml"
  { echo "---"; cat "$crd"; } >> "$tmp"
done
chmod 644 "$tmp"
mv "$tmp" "$FILE"
log "CRDs in $FILE"
echo "$FILE"
