#!/usr/bin/env bash
# A real local Mesos cluster with the dvdi module: one master and two agents on 127.0.0.1,
# each with its own ports, work and runtime directories, dvdi state and mount root, and one
# loop pool both agents share (so a volume can move between them).
#
#   MESOS_HOME=/opt/mesos-1.11.0 test-cluster/cluster.sh start|stop|status
#   test-cluster/cluster.sh kill-agent N      (SIGKILL, as a crash)
#   test-cluster/cluster.sh start-agent N     (start, or restart after a kill: it recovers)
#   DVDI_EXTRA_SETTINGS="k=v;k=v" test-cluster/cluster.sh start-agent N   (with more dvdi settings)
#
# See lib.sh for the inputs. Needs root (mounts, loop devices, the linux launcher).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

pidfile() { echo "$CLUSTER_DIR/$1.pid"; }
running() { [ -f "$(pidfile "$1")" ] && kill -0 "$(cat "$(pidfile "$1")")" 2>/dev/null; }

start_master() {
  mkdir -p "$CLUSTER_DIR/master"
  running master && return 0
  "$MESOS_HOME/sbin/mesos-master" --ip=127.0.0.1 --port=5050 --work_dir="$CLUSTER_DIR/master" \
    --registry=in_memory --log_dir="$CLUSTER_DIR/master" --quiet \
    >"$CLUSTER_DIR/master.out" 2>&1 &
  echo $! >"$(pidfile master)"
  wait_for "the master" 30 curl -sf "http://$MASTER/health"
  log "master up at $MASTER"
}

modules_json() {
  local n="$1" file="$(agent_dir "$1")/dvdi-mod.json"
  cat >"$file" <<JSON
{
  "libraries": [{
    "file": "$DVDI_MODULE",
    "modules": [{
      "name": "$MODULE_NAME",
      "parameters": [
        {"key": "jar", "value": "$DVDI_JAR"},
        {"key": "libjvm", "value": "$JAVA_HOME/lib/server/libjvm.so"},
        {"key": "state_dir", "value": "$(agent_state "$n")"},
        {"key": "mount_root", "value": "$(agent_mounts "$n")"},
        {"key": "instance_id", "value": "agent$n"},
        {"key": "default_driver", "value": "loop"},
        {"key": "settings", "value": "providers.loop.pool=$POOL;providers.loop.default-size=64MiB;providers.plugin.socket-dirs=$PLUGIN_DIR${DVDI_EXTRA_SETTINGS:+;$DVDI_EXTRA_SETTINGS}"}
      ]
    }]
  }]
}
JSON
  echo "$file"
}

start_agent() {
  local n="$1" port="${AGENT_PORTS[$(($1 - 1))]}" dir
  dir="$(agent_dir "$n")"
  mkdir -p "$dir/work" "$dir/run" "$dir/logs" "$POOL" "$PLUGIN_DIR"
  running "agent$n" && return 0
  "$MESOS_HOME/sbin/mesos-agent" --master="$MASTER" --ip=127.0.0.1 --port="$port" \
    --hostname="agent$n" --work_dir="$dir/work" --runtime_dir="$dir/run" --log_dir="$dir/logs" \
    --resources="cpus:4;mem:4096;disk:4096;slot$n:100" --launcher=linux --containerizers=mesos \
    --isolation="filesystem/linux,$MODULE_NAME" --modules="file://$(modules_json "$n")" \
    --no-systemd_enable_support --recover=reconnect --strict=false \
    >"$dir/agent.out" 2>&1 &
  echo $! >"$(pidfile "agent$n")"
  wait_for "agent$n" 60 curl -sf "http://127.0.0.1:$port/health"
  wait_for "agent$n to register" 60 bash -c "curl -sf http://$MASTER/state | grep -q '\"hostname\":\"agent$n\"'"
  log "agent$n up at 127.0.0.1:$port (dvdi state $(agent_state "$n"))"
}

kill_agent() {
  local n="$1"
  if running "agent$n"; then
    kill -9 "$(cat "$(pidfile "agent$n")")"
    wait "$(cat "$(pidfile "agent$n")")" 2>/dev/null || true
    log "agent$n killed with SIGKILL"
  fi
  rm -f "$(pidfile "agent$n")"
}

stop_all() {
  # End every framework first, so that the agents clean up their tasks (and release volumes).
  if running master; then
    for f in $(curl -sf "http://$MASTER/frameworks" \
        | python3 -c 'import json,sys; print(" ".join(f["id"] for f in json.load(sys.stdin)["frameworks"]))'); do
      curl -sf -X POST "http://$MASTER/teardown" -d "frameworkId=$f" >/dev/null || true
    done
    for _ in $(seq 100); do
      [ -z "$(grep -E " $CLUSTER_DIR/agent[12]/dvdi-volumes/" /proc/self/mountinfo)" ] && break
      sleep 0.2
    done
  fi
  for p in agent1 agent2 master; do
    if running "$p"; then
      kill -TERM "$(cat "$(pidfile "$p")")" 2>/dev/null || true
      for _ in $(seq 50); do running "$p" || break; sleep 0.2; done
      running "$p" && kill -9 "$(cat "$(pidfile "$p")")"
    fi
    rm -f "$(pidfile "$p")"
  done
  # Executors and tasks of a stopped agent keep running (that is what lets agents restart);
  # end those of this cluster (their environment names its directories).
  for p in /proc/[0-9]*; do
    if { tr '\0' '\n' <"$p/environ"; } 2>/dev/null | grep -q "^MESOS_[A-Z_]*=$CLUSTER_DIR/agent"; then
      kill -9 "${p#/proc/}" 2>/dev/null || true
    fi
  done
  # The agents make their work directories shared mounts (filesystem/linux) and leave them.
  for m in $(grep " $CLUSTER_DIR/agent[12]/work" /proc/self/mountinfo | awk '{print $5}' | sort -r); do
    umount -l "$m" 2>/dev/null || true
  done
  log "cluster stopped"
}

case "${1:-}" in
  start) start_master; start_agent 1; start_agent 2 ;;
  stop) stop_all ;;
  start-agent) start_agent "$2" ;;
  kill-agent) kill_agent "$2" ;;
  status)
    for p in master agent1 agent2; do
      if running "$p"; then echo "$p: running (pid $(cat "$(pidfile "$p")"))"; else echo "$p: stopped"; fi
    done ;;
  *) echo "usage: $0 start|stop|status|kill-agent N|start-agent N" >&2; exit 2 ;;
esac
