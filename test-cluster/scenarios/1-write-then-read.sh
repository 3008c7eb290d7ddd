#!/usr/bin/env bash
# 1. A task writes a line to a volume; a second task sees it.
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
vol=s1-$$
env="{\"DVDI_VOLUME_NAME\":\"$vol\",\"DVDI_VOLUME_DRIVER\":\"loop\",\"DVDI_VOLUME_CONTAINERPATH\":\"data\"}"
out=$(run_task 1 s1-writer "echo written-by-task-one > data/line.txt" --env="$env")
[ "$(echo "$out" | final_state)" = TASK_FINISHED ] || fail "writer: $out"
wait_for "the release after the writer ended" 60 not_mounted_on 1 "$vol"
out=$(run_task 1 s1-reader "grep -qx written-by-task-one data/line.txt" --env="$env")
[ "$(echo "$out" | final_state)" = TASK_FINISHED ] || fail "reader did not see the line: $out"
pass "a second task saw the first task's line on $vol"
