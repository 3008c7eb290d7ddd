#!/usr/bin/env bash
# Task launch latency on the running cluster (cluster.sh start): p50 and p90 over N launches
# (default 20) of a trivial task, wall clock of mesos-execute until TASK_FINISHED:
#   none   no volume
#   cold   a DVDI volume that exists but is not mounted (attach, mount, bind, then release)
#   warm   the same volume while another task holds it (the fast path: no provider call)
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
n="${1:-20}"
vol=lat-$$
env="{\"DVDI_VOLUME_NAME\":\"$vol\",\"DVDI_VOLUME_CONTAINERPATH\":\"v\"}"

measure() {
  local label="$1"; shift
  local times=()
  for _ in $(seq "$n"); do
    local start end out
    start=$(date +%s%N)
    out=$(run_task 1 "lat-$label" "true" "$@")
    end=$(date +%s%N)
    [ "$(echo "$out" | final_state)" = TASK_FINISHED ] || fail "$label: $out"
    times+=($(( (end - start) / 1000000 )))
  done
  local sorted
  sorted=($(printf '%s\n' "${times[@]}" | sort -n))
  echo "$label: p50 ${sorted[$(( n / 2 ))]} ms, p90 ${sorted[$(( n * 9 / 10 ))]} ms (n=$n)"
}

run_task 1 lat-create "true" --env="$env" >/dev/null   # create the volume once
measure none
measure cold --env="$env"
tmp=$(mktemp)
run_task 1 lat-holder "exec sleep 3600" --env="$env" >"$tmp" & holder=$!
wait_for "the holder task" 60 grep -q TASK_RUNNING "$tmp"
measure warm --env="$env"
kill "$holder"; wait "$holder" 2>/dev/null || true
rm -f "$tmp"
wait_for "the release" 60 not_mounted_on 1 "$vol"
