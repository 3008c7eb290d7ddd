#!/usr/bin/env bash
# 7. A Docker volume plugin hangs while its agent restarts with dvdi state for a container that
#    Mesos no longer knows (its work dir's metadata and runtime dir are gone, as after a lost work
#    dir or a reboot): the agent still recovers and starts a task without volumes within a
#    minute, and the volume is released once the plugin answers again.
#    dvdi's recovery waits for the releases of such containers up to their deadlines
#    (timeout.unmount + timeout.detach, each with a 2 s grace: the README's "Configuration");
#    the agent is restarted with 20 s for each, so that the task's minute holds. With the
#    defaults (120 s each) a hung plugin holds the agent's start for about 2 minutes (its
#    unmount's deadline), a block volume's provider for up to about 4.
#    The plugin is test-cluster/tmpfs-plugin.py (a real plugin: a tmpfs per volume), made to hang
#    with SIGSTOP: the kernel still accepts connections, nothing answers.
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
here="$(dirname "${BASH_SOURCE[0]}")/.."
cluster="$here/cluster.sh"
vol=s7-$$; driver=hangy
plugin_root="$CLUSTER_DIR/hangy-volumes"
python3 "$here/tmpfs-plugin.py" "$PLUGIN_DIR/$driver.sock" "$plugin_root" 2>"$CLUSTER_DIR/hangy.log" &
plugin=$!
ended() {
  kill -CONT "$plugin" 2>/dev/null; kill "$plugin" 2>/dev/null || true
  # the plugin's mounts go with it (its volumes live only while mounted)
  for m in $(grep " $plugin_root/" /proc/self/mountinfo | awk '{print $5}'); do umount "$m" 2>/dev/null || true; done
}
trap ended EXIT
wait_for "the plugin's socket" 10 test -S "$PLUGIN_DIR/$driver.sock"
plugin_mounted() { grep -q " $plugin_root/$vol " /proc/self/mountinfo; }
in_state() { dvdi_cli 1 mounts --no-headers 2>/dev/null | grep -q "$driver *$vol "; }
not_in_state() { ! in_state; }

t=$(mktemp)
run_task 1 s7-user "echo before > d/line.txt && exec sleep 3701.$$" --checkpoint \
  --env="{\"DVDI_VOLUME_NAME\":\"$vol\",\"DVDI_VOLUME_DRIVER\":\"$driver\",\"DVDI_VOLUME_CONTAINERPATH\":\"d\"}" >"$t" & pt=$!
wait_for "the task" 60 grep -q TASK_RUNNING "$t"
wait_for "the task's process" 30 pgrep -f "^sleep 3701.$$\$"
plugin_mounted || fail "the plugin has no mount for $vol although its task runs"
grep -qx before "$plugin_root/$vol/line.txt" || fail "the task's write is not on the plugin's volume"
container=$(dvdi_cli 1 -o json inspect "$driver/$vol" | python3 -c 'import json,sys; print(json.load(sys.stdin)["containers"][0])')
[ -n "$container" ] || fail "dvdi's state has no container for $driver/$vol"

# The agent dies; its task and executor die; Mesos's memory of the container goes.
agent_id() {
  curl -sf "http://$MASTER/slaves" | python3 -c 'import json,sys
print(" ".join(a["id"] for a in json.load(sys.stdin)["slaves"] if a["hostname"] == "agent1" and a["active"]))'
}
old_id=$(agent_id)
"$cluster" kill-agent 1
task=$(pgrep -f "^sleep 3701.$$\$" | head -1)
executor=$(ps -o ppid= -p "$task" | tr -d ' ')
kill -9 "$task" "$executor" 2>/dev/null || true
kill "$pt" 2>/dev/null; wait "$pt" 2>/dev/null || true
for _ in $(seq 50); do pgrep -f "^sleep 3701.$$\$" >/dev/null || break; sleep 0.2; done
rm -rf "$(agent_dir 1)/work/meta" "$(agent_dir 1)/run"
for cg in /sys/fs/cgroup/*/mesos/"$container"; do [ -d "$cg" ] && rmdir "$cg" 2>/dev/null || true; done
in_state || fail "dvdi's state lost $driver/$vol before the restart"

# The plugin hangs; the agent starts again.
kill -STOP "$plugin"
started=$(date +%s)
DVDI_EXTRA_SETTINGS="timeout.unmount=20s;timeout.detach=20s" "$cluster" start-agent 1
# mesos-execute gives up on offers that do not fit (see scenario 4): launch once the restarted
# agent (a new agent ID: its metadata is gone) is registered, as a framework would see it.
registered() { local id; id=$(agent_id); [ -n "$id" ] && [ "$id" != "$old_id" ]; }
wait_for "agent1's registration after its recovery" 60 registered
log "agent1 registered again after $(($(date +%s) - started))s"
left=$((60 - ($(date +%s) - started)))
[ "$left" -gt 0 ] || fail "agent1 took over a minute to register again while the plugin hangs"
out=$(timeout "$left" bash -c "source '$here/lib.sh'; run_task 1 s7-novolume true") || true
took=$(($(date +%s) - started))
[ "$(echo "$out" | final_state)" = TASK_FINISHED ] || fail "a task without volumes did not finish within a minute of the agent's start while the plugin hangs: $out"
[ "$took" -le 60 ] || fail "a task without volumes took ${took}s after the agent's start"
log "a task without volumes finished ${took}s after the agent started, the plugin hung"
plugin_mounted || fail "$vol's plugin mount went away while the plugin was stopped"
in_state || fail "dvdi forgot $driver/$vol while its release could not be done"

# The plugin answers again: the volume is released (the plugin unmounts its tmpfs, state forgets it).
kill -CONT "$plugin"
answered=$(date +%s)
wait_for "the release of $driver/$vol once the plugin answers" 180 bash -c "! grep -q ' $plugin_root/$vol ' /proc/self/mountinfo"
wait_for "dvdi's state to drop $driver/$vol" 60 not_in_state
log "$driver/$vol released $(($(date +%s) - answered))s after the plugin answered again"
dvdi_cli 1 verify --no-provider >/dev/null || fail "dvdi verify: $(dvdi_cli 1 verify --no-provider)"
rm -f "$t"
pass "with $driver hung, agent1 restarted and ran a task without volumes in ${took}s; $driver/$vol was released once the plugin answered"
