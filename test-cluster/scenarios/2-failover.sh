#!/usr/bin/env bash
# 2. The failover demo: a server-like task appends "Hello <n>" to a file on its volume, is
#    killed, is relaunched on the other agent, and finds its earlier line.
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
vol=s2-$$
env="{\"DVDI_VOLUME_NAME\":\"$vol\",\"DVDI_VOLUME_CONTAINERPATH\":\"www\",\"DVDI_VOLUME_OPTS\":\"size=64MiB\"}"
serve='n=$(( $(cat www/hello.txt 2>/dev/null | wc -l) + 1 )); echo "Hello $n" >> www/hello.txt; exec sleep 3600'
tmp=$(mktemp)
run_task 1 s2-web "$serve" --env="$env" >"$tmp" &
pid=$!
wait_for "the web task on agent1" 60 grep -q TASK_RUNNING "$tmp"
mounted_on 1 "$vol" || fail "not mounted on agent1 while its task runs"
# TASK_RUNNING comes before the task's command has run: wait for its line on the volume
# itself before the kill, so that what agent2 finds later is what agent1's task wrote.
wait_for "the task on agent1 to write its line" 30 grep -q "Hello 1" "$(agent_mounts 1)/loop/$vol/hello.txt"
kill "$pid"; wait "$pid" 2>/dev/null || true   # the framework goes away: its task is killed
wait_for "agent1 to release $vol" 60 not_mounted_on 1 "$vol"
run_task 2 s2-web "$serve" --env="$env" >"$tmp" &
pid=$!
wait_for "the web task on agent2" 60 grep -q TASK_RUNNING "$tmp"
wait_for "the task on agent2 to write its line" 30 grep -q "Hello 2" "$(agent_mounts 2)/loop/$vol/hello.txt"
lines=$(cat "$(agent_mounts 2)/loop/$vol/hello.txt")
kill "$pid"; wait "$pid" 2>/dev/null || true
rm -f "$tmp"
[ "$lines" = "$(printf 'Hello 1\nHello 2')" ] || fail "agent2 found: $lines"
wait_for "agent2 to release $vol" 60 not_mounted_on 2 "$vol"
pass "relaunched on agent2, the task found 'Hello 1' and wrote 'Hello 2'"
