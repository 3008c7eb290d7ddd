#!/usr/bin/env bash
# Starts the cluster, runs the scenarios, stops it, and checks that no mount, loop device
# or dvdi state is left. Exit 0 only if all pass.
#   MESOS_HOME=/opt/mesos-1.11.0 test-cluster/run-all.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
here="$(dirname "${BASH_SOURCE[0]}")"
rm -rf "$CLUSTER_DIR"
"$here/cluster.sh" start
trap '"$here/cluster.sh" stop' EXIT
passed=0; failed=0
for s in "$here"/scenarios/*.sh; do
  echo "== $(basename "$s")"
  if "$s"; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
done
"$here/cluster.sh" stop
trap - EXIT
for n in 1 2; do
  left=$(dvdi_cli "$n" mounts --no-headers)
  [ -z "$left" ] || { echo "agent$n's dvdi state is not empty: $left"; failed=$((failed + 1)); }
done
left=$(leftovers)
[ -z "$left" ] || { echo "left behind: $left"; failed=$((failed + 1)); }
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
