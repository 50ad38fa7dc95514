#!/usr/bin/env bash
# Copies the generated CRDs and admission policies (the files crds/*.yaml; not the sub-folders,
# such as crds/rollouts/, which the operator applies itself) into the Helm chart
# (charts/shunter/files/crds/), whose templates/crds.yaml installs them. Run it after
# `make crds`; tests/unit/chart checks that the copy is current.
#
#   tools/sync-chart-crds.sh          # copy
#   tools/sync-chart-crds.sh --check  # exit 1 (naming the stale files) if the copy is not current
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
src="$root/crds"
dst="$root/charts/shunter/files/crds"

list() { find "$1" -maxdepth 1 -type f -name '*.yaml' -printf '%f\n' | sort; }

if [ "${1:-}" = "--check" ]; then
  stale=0
  if [ "$(list "$src")" != "$(list "$dst" 2>/dev/null)" ]; then
    echo "[sync-chart-crds] the file lists of crds/ and ${dst#"$root"/} differ" >&2
    stale=1
  fi
  for f in $(list "$src"); do
    if ! cmp -s "$src/$f" "$dst/$f"; then echo "[sync-chart-crds] stale: $f" >&2; stale=1; fi
  done
  if [ "$stale" -ne 0 ]; then
    echo "[sync-chart-crds] run tools/sync-chart-crds.sh" >&2
    exit 1
  fi
  echo "[sync-chart-crds] ${dst#"$root"/} is current"
  exit 0
fi

mkdir -p "$dst"
find "$dst" -maxdepth 1 -type f -name '*.yaml' -delete
cp "$src"/*.yaml "$dst"/
echo "[sync-chart-crds] copied $(list "$dst" | wc -l) files to ${dst#"$root"/}"
