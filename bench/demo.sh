#!/usr/bin/env bash
# The main job on the example playbooks, from an empty folder: the tour in README.md, scripted.
# Usage: bench/demo.sh SEQCTL DIR
set -euo pipefail
seqctl=$(realpath "$1")
dir=$2
now=${DEMO_NOW:-2026-11-23T13:00:00Z}   # a Monday, inside the starters' send windows

step() { printf '\n\033[1m$ seqctl %s\033[0m\n' "$*"; "$seqctl" --now "$now" "$@"; }

"$seqctl" init "$dir" >/dev/null
cd "$dir"
echo "A new playbook repository in $dir: playbooks/, templates/, schemas/, seqctl.yaml, contacts.csv"
step lint
step publish --by demo
for id in intro-new-leads welcome-series billing-reminder reactivation deal-follow-up; do
  "$seqctl" activate "$id" >/dev/null
done
step sequences list
step contacts import contacts.csv
keys=$(tail -n +2 contacts.csv | cut -d, -f1)
step enroll intro-new-leads --file contacts.csv
step enroll billing-reminder $(printf -- '--contact %s ' $(echo "$keys" | head -4)) --var amount='$120.00'
step tick
step approvals --sequence intro-new-leads
step approve --all
step tick
now=2026-11-23T17:00:00Z
step tick
step actions --due
step status intro-new-leads
printf '\nMessages written to %s/outbox.jsonl: %s\n' "$dir" "$(wc -l < outbox.jsonl)"
