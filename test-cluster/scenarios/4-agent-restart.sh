#!/usr/bin/env bash
# 4. The agent is killed with SIGKILL and restarted while a task runs: the volume stays
#    mounted for it. A task that dies while its agent is down has its volume released after
#    the agent's recovery.
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
cluster="$(dirname "${BASH_SOURCE[0]}")/../cluster.sh"
keep=s4-keep-$$; lose=s4-lose-$$
k=$(mktemp); l=$(mktemp)
# One launch at a time: a mesos-execute whose first offers do not fit (another framework took
# agent1's) declines them and suppresses offers for good (Mesos 1.9 to 1.11, src/cli/execute.cpp),
# so two launches at once for one agent can leave one of them waiting forever.
run_task 1 s4-keep "exec sleep 3601.$$" --checkpoint --env="{\"DVDI_VOLUME_NAME\":\"$keep\",\"DVDI_VOLUME_CONTAINERPATH\":\"d\"}" >"$k" & pk=$!
wait_for "the first task" 60 grep -q TASK_RUNNING "$k"
run_task 1 s4-lose "exec sleep 3602.$$" --checkpoint --env="{\"DVDI_VOLUME_NAME\":\"$lose\",\"DVDI_VOLUME_CONTAINERPATH\":\"d\"}" >"$l" & pl=$!
wait_for "the second task" 60 grep -q TASK_RUNNING "$l"
# TASK_RUNNING comes before the tasks' commands run: wait for their processes themselves.
wait_for "the first task's process" 30 pgrep -f "^sleep 3601.$$\$"
wait_for "the second task's process" 30 pgrep -f "^sleep 3602.$$\$"
"$cluster" kill-agent 1
# While the agent is down, the second task's executor and task die.
task=$(pgrep -f "^sleep 3602.$$\$" | head -1)
[ -n "$task" ] || fail "cannot find the second task's process"
executor=$(ps -o ppid= -p "$task" | tr -d ' ')
kill -9 "$task" "$executor" 2>/dev/null || true
"$cluster" start-agent 1
wait_for "recovery to release $lose" 90 not_mounted_on 1 "$lose"
mounted_on 1 "$keep" || fail "$keep was released although its task still runs"
pgrep -f "^sleep 3601.$$\$" >/dev/null || fail "the first task did not survive the agent restart"
dvdi_cli 1 verify --no-provider >/dev/null || fail "dvdi verify: $(dvdi_cli 1 verify --no-provider)"
kill "$pk" "$pl" 2>/dev/null; wait "$pk" "$pl" 2>/dev/null || true
wait_for "$keep's release" 90 not_mounted_on 1 "$keep"
rm -f "$k" "$l"
pass "after a SIGKILL and restart of agent1, $keep stayed mounted for its task and $lose was released"
