#!/usr/bin/env bash
# Builds the local control plane's binaries (etcd, kube-apiserver, kube-controller-manager,
# kubectl, helm) and Prometheus' promtool (the metrics tests check the documented alerts with
# it; version pinned by tools/go/promtool/go.mod) from the Go module proxy into a version-keyed
# cache outside the repository, and skips every binary that is already there. Prints the cache
# folder on its last line.
#
#   tools/build-binaries.sh            # all binaries
#   tools/build-binaries.sh etcd kubectl
#
# Environment: SHUNTER_CACHE (default ~/.cache/shunter).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
KUBE_VERSION=v1.35.4
ETCD_VERSION=v3.6.16
HELM_VERSION=v3.21.4
cache_root=${SHUNTER_CACHE:-$HOME/.cache/shunter}
bin_dir="$cache_root/bin/k8s-$KUBE_VERSION-etcd-$ETCD_VERSION-helm-$HELM_VERSION"
mkdir -p "$bin_dir"

export CGO_ENABLED=0 GOFLAGS=-mod=mod
export GOTOOLCHAIN=${GOTOOLCHAIN:-local}

log() { printf '[build-binaries] %s\n' "$*" >&2; }

# Runs `go build -v`, printing one progress line every 100 packages compiled, so a long cold
# build shows that it is moving without flooding the log.
go_build() {
  local dir=$1 out=$2 pkg=$3; shift 3
  local start=$SECONDS tmp="$out.tmp.$$"
  log "building $(basename "$out") ($pkg); a cold build takes several minutes"
  command -v go >/dev/null || { log "Go is required to build $pkg (https://go.dev/dl)"; exit 1; }
  # Everything go prints goes to stderr: stdout carries only the bin folder (last line).
  if ! (cd "$dir" && go build -v -trimpath -ldflags "-s -w $*" -o "$tmp" "$pkg" 2>&1) |
    awk -v name="$(basename "$out")" '
      /^#|\.go:[0-9]+:|^go: / { print; fflush(); next }
      { n++; if (n % 100 == 0) { printf "[build-binaries]   %s: %d packages compiled\n", name, n; fflush() } }' >&2
  then
    rm -f "$tmp"; log "build of $pkg failed"; exit 1
  fi
  mv "$tmp" "$out"
  log "built $(basename "$out") in $((SECONDS - start))s"
}

kube_ldflags() {
  local p=k8s.io/component-base/version minor=${KUBE_VERSION#v1.}
  minor=${minor%%.*}
  echo "-X $p.gitVersion=$KUBE_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$minor -X $p.gitTreeState=clean"
}

build_one() {
  local name=$1 out="$bin_dir/$1" lock
  if [ -x "$out" ]; then log "$name: cached"; return; fi
  # Concurrent runs (two test sessions, make targets) build each binary once: wait for the
  # lock, then look again.
  if command -v flock >/dev/null; then
    exec {lock}>"$out.lock"
    flock "$lock"
    if [ -x "$out" ]; then log "$name: built meanwhile by another run"; exec {lock}>&-; return; fi
  fi
  case $name in
    etcd) go_build "$here/go/etcd" "$out" go.etcd.io/etcd/server/v3 ;;
    kube-apiserver|kube-controller-manager|kubectl)
      go_build "$here/go/kube" "$out" "k8s.io/kubernetes/cmd/$name" "$(kube_ldflags)" ;;
    helm)
      go_build "$here/go/helm" "$out" helm.sh/helm/v3/cmd/helm \
        "-X helm.sh/helm/v3/internal/version.version=$HELM_VERSION" ;;
    promtool) go_build "$here/go/promtool" "$out" github.com/prometheus/prometheus/cmd/promtool ;;
    *) log "unknown binary: $name"; exit 2 ;;
  esac
  if [ -n "${lock:-}" ]; then exec {lock}>&-; fi
}

if [ $# -eq 0 ]; then set -- etcd kube-apiserver kube-controller-manager kubectl helm promtool; fi
for b in "$@"; do build_one "$b"; done
echo "$bin_dir"
