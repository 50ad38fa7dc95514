#!/usr/bin/env bash
# Copies the generated CRDs and admission policies (crds/*.yaml) into the Helm chart
# (charts/shunter/files/crds/), whose templates/crds.yaml installs them, and shunter's minimal
# Argo Rollouts analysis CRDs (crds/rollouts/*.yaml) into charts/shunter/files/crds/rollouts/,
# installed only with rollouts.installCRDs. Run it after `make crds`; tests/unit/chart checks
# that the copy is current.
#
#   tools/sync-chart-crds.sh          # copy
#   tools/sync-chart-crds.sh --check  # exit 1 (naming the stale files) if the copy is not current
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
pairs=("$root/crds:$root/charts/shunter/files/crds"
       "$root/crds/rollouts:$root/charts/shunter/files/crds/rollouts")

list() { find "$1" -maxdepth 1 -type f -name '*.yaml' -printf '%f\n' 2>/dev/null | sort; }

if [ "${1:-}" = "--check" ]; then
  stale=0
  for pair in "${pairs[@]}"; do
    src=${pair%%:*} dst=${pair#*:}
    if [ "$(list "$src")" != "$(list "$dst")" ]; then
      echo "[sync-chart-crds] the file lists of ${src#"$root"/} and ${dst#"$root"/} differ" >&2
      stale=1
    fi
    for f in $(list "$src"); do
      if ! cmp -s "$src/$f" "$dst/$f"; then echo "[sync-chart-crds] stale: $f" >&2; stale=1; fi
    done
  done
  if [ "$stale" -ne 0 ]; then
    echo "[sync-chart-crds] run tools/sync-chart-crds.sh" >&2
    exit 1
  fi
  echo "[sync-chart-crds] the chart's copies are current"
  exit 0
fi

for pair in "${pairs[@]}"; do
  src=${pair%%:*} dst=${pair#*:}
  mkdir -p "$dst"
  find "$dst" -maxdepth 1 -type f -name '*.yaml' -delete
  cp "$src"/*.yaml "$dst"/
  echo "[sync-chart-crds] copied $(list "$dst" | wc -l) files to ${dst#"$root"/}"
done
