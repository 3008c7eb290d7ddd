#!/usr/bin/env bash
# 3. Two tasks on one agent share a volume: it is unmounted only after both end.
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
vol=s3-$$
env="{\"DVDI_VOLUME_NAME\":\"$vol\",\"DVDI_VOLUME_CONTAINERPATH\":\"shared\"}"
a=$(mktemp); b=$(mktemp)
run_task 1 s3-a 'echo a >> shared/who; exec sleep 3600' --env="$env" >"$a" & pa=$!
wait_for "task a" 60 grep -q TASK_RUNNING "$a"
run_task 1 s3-b 'echo b >> shared/who; exec sleep 3600' --env="$env" >"$b" & pb=$!
wait_for "task b" 60 grep -q TASK_RUNNING "$b"
refs_are 1 "$vol" 2 || fail "expected 2 references: $(dvdi_cli 1 inspect "loop/$vol")"
# TASK_RUNNING comes before a task's command runs: wait for both lines on the volume itself.
wait_for "both tasks to write to the shared volume" 30 \
  bash -c "grep -qx a '$(agent_mounts 1)/loop/$vol/who' && grep -qx b '$(agent_mounts 1)/loop/$vol/who'"
kill "$pa"; wait "$pa" 2>/dev/null || true
wait_for "task a's cleanup" 60 refs_are 1 "$vol" 1
mounted_on 1 "$vol" || fail "unmounted while task b still uses it"
kill "$pb"; wait "$pb" 2>/dev/null || true
wait_for "the release after the last user" 60 not_mounted_on 1 "$vol"
rm -f "$a" "$b"
pass "$vol stayed mounted for task b and was released after it"
