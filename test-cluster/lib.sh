#!/usr/bin/env bash
# Shared by cluster.sh and the scenarios: where things are, and small helpers.
#
# Inputs (environment):
#   MESOS_HOME   a Mesos installation (prefix with bin/, sbin/, lib/libmesos.so); required
#   DVDI_MODULE  the isolator module built for that Mesos (libmesos_dvdi_isolator-<version>.so);
#                default: the one the build made under native/target/cmake
#   DVDI_JAR     dvdi.jar; default: java/dvdi-dist/target/dvdi.jar
#   CLUSTER_DIR  where the cluster keeps work dirs, logs and the shared loop pool;
#                default: /tmp/dvdi-cluster
#   JAVA_HOME    the JDK whose libjvm the module loads; default: the system's default JDK
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
: "${MESOS_HOME:?set MESOS_HOME to a Mesos installation (e.g. /opt/mesos-1.11.0)}"
: "${CLUSTER_DIR:=/tmp/dvdi-cluster}"
: "${DVDI_JAR:=$REPO/java/dvdi-dist/target/dvdi.jar}"
: "${JAVA_HOME:=$(dirname "$(dirname "$(readlink -f "$(command -v javac || command -v java)")")")}"
export JAVA_HOME

MESOS_VERSION="$(sed -n 's/^#define MESOS_VERSION "\(.*\)"/\1/p' "$MESOS_HOME/include/mesos/version.hpp")"
if [ -z "${DVDI_MODULE:-}" ]; then
  DVDI_MODULE="$(find "$REPO/native/target" -name "libmesos_dvdi_isolator-$MESOS_VERSION.so" 2>/dev/null | head -1)"
fi
[ -f "${DVDI_MODULE:-}" ] || { echo "no dvdi module for Mesos $MESOS_VERSION: build with ./mvnw package -Dmesos.root=$MESOS_HOME, or set DVDI_MODULE" >&2; exit 1; }
[ -f "$DVDI_JAR" ] || { echo "no $DVDI_JAR: build with ./mvnw package" >&2; exit 1; }

MASTER=127.0.0.1:5050
AGENT_PORTS=(5051 5052)
POOL="$CLUSTER_DIR/loop-pool"
PLUGIN_DIR="$CLUSTER_DIR/plugins"   # Docker volume plugins' sockets (scenario 7 starts one)
MODULE_NAME=org_dvdi_DvdiIsolator
export LD_LIBRARY_PATH="$MESOS_HOME/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"

agent_dir() { echo "$CLUSTER_DIR/agent$1"; }
log() { printf '%s %s\n' "$(date +%T)" "$*" >&2; }

# The state directory, mount root and instance of agent N (1 or 2).
agent_state() { echo "$(agent_dir "$1")/dvdi-state"; }
agent_mounts() { echo "$(agent_dir "$1")/dvdi-volumes"; }

# dvdi's CLI pointed at agent N.
dvdi_cli() {
  local n="$1"; shift
  DVDI_JAR="$DVDI_JAR" "$REPO/bin/dvdi" --set "state.dir=$(agent_state "$n")" --set "mount.root=$(agent_mounts "$n")" \
    --set "providers.loop.pool=$POOL" --set "instance.id=agent$n" "$@"
}

# Runs a task with mesos-execute on agent N (pinned with the agent's own "slotN" resource).
# Usage: out=$(run_task N NAME COMMAND [extra mesos-execute flags...]), or run_task ... >file &
# (then $! is mesos-execute itself: killing it ends its framework and so its task). Always in a
# subshell: it execs.
run_task() {
  local n="$1" name="$2" cmd="$3"; shift 3
  exec "$MESOS_HOME/bin/mesos-execute" --master="$MASTER" --name="$name" --command="$cmd" \
    --resources="cpus:0.1;mem:32;slot$n:1" "$@" 2>&1
}

# The final state a mesos-execute output reports.
final_state() { grep -o 'Received status update TASK_[A-Z_]*' | tail -1 | awk '{print $4}'; }

# Fails the scenario with a message.
fail() { echo "FAIL: $*" >&2; exit 1; }
pass() { echo "PASS: $*"; }

# Waits until a command succeeds (up to $2 seconds).
wait_for() {
  local what="$1" secs="$2"; shift 2
  for _ in $(seq $((secs * 5))); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.2
  done
  fail "timed out waiting for $what"
}

# Whether a volume is mounted on agent N (in the kernel's mount table).
mounted_on() { grep -q " $(agent_mounts "$1")/loop/$2 " /proc/self/mountinfo; }
not_mounted_on() { ! mounted_on "$@"; }

# Whether dvdi on agent N counts $3 references on loop volume $2.
refs_are() { dvdi_cli "$1" -o json inspect "loop/$2" 2>/dev/null | grep -q "\"refs\" : $3\b"; }

# Everything the cluster may leave: mounts under the agents' mount roots, loop devices on the pool.
leftovers() {
  grep -E " $CLUSTER_DIR/agent[12]/dvdi-volumes/" /proc/self/mountinfo | awk '{print "mount: "$5}' || true
  for f in /sys/block/loop*/loop/backing_file; do
    [ -r "$f" ] && grep -q "^$POOL/" "$f" && echo "loop device: $f -> $(cat "$f")"
  done
  true
}
