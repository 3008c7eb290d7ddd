#!/usr/bin/env bash
# Task launch latency on the running cluster (cluster.sh start): p50 and p90 over N launches
# (default 20) of a trivial task on agent1, wall clock of mesos-execute until TASK_FINISHED,
# runs of the kinds compared interleaved (so that drift hits both alike):
#   none   no volume
#   cold   a DVDI volume that exists but is not mounted (attach, mount, bind, then release)
#   warm   the same volume while another task holds it (the fast path: no provider call)
# Then the isolator's own share from the agent's /metrics/snapshot (dvdi/prepare_ms).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
n="${1:-20}"
vol=lat-$$
env="{\"DVDI_VOLUME_NAME\":\"$vol\",\"DVDI_VOLUME_CONTAINERPATH\":\"v\"}"
declare -A times

launch() {
  local label="$1"; shift
  local start end out
  start=$(date +%s%N)
  out=$(run_task 1 "lat-$label" "true" "$@")
  end=$(date +%s%N)
  [ "$(echo "$out" | final_state)" = TASK_FINISHED ] || fail "$label: $out"
  times[$label]+="$(( (end - start) / 1000000 )) "
}

report() {
  local label="$1" sorted
  sorted=($(printf '%s\n' ${times[$label]} | sort -n))
  echo "$label: p50 ${sorted[$(( ${#sorted[@]} / 2 ))]} ms, p90 ${sorted[$(( ${#sorted[@]} * 9 / 10 ))]} ms (n=${#sorted[@]})"
}

prepare_metrics() {
  curl -sf "http://127.0.0.1:${AGENT_PORTS[0]}/metrics/snapshot" | python3 -c '
import json, sys
m = json.load(sys.stdin)
print("  the isolator on agent1, dvdi/prepare_ms over the last hour (%d prepare calls, with and without volumes): p50 %.1f ms, p90 %.1f ms" % (
    m.get("dvdi/prepare_ms/count", 0), m.get("dvdi/prepare_ms/p50", -1), m.get("dvdi/prepare_ms/p90", -1)))'
}

(run_task 1 lat-create "true" --env="$env") >/dev/null   # create the volume once
wait_for "the release" 60 not_mounted_on 1 "$vol"
for _ in $(seq "$n"); do
  launch none
  launch cold --env="$env"
  wait_for "the release" 60 not_mounted_on 1 "$vol"
done
report none
report cold
prepare_metrics

tmp=$(mktemp)
run_task 1 lat-holder "exec sleep 3600" --env="$env" >"$tmp" & holder=$!
wait_for "the holder task" 60 grep -q TASK_RUNNING "$tmp"
times[none]=""
for _ in $(seq "$n"); do
  launch none
  launch warm --env="$env"
done
report none
report warm
prepare_metrics
kill "$holder"; wait "$holder" 2>/dev/null || true
rm -f "$tmp"
wait_for "the release" 60 not_mounted_on 1 "$vol"
