#!/usr/bin/env bash
# 6. The same as scenario 1 with Mesos's own volume syntax (ContainerInfo DOCKER_VOLUME), as
#    the docker/volume isolator takes it: relative and absolute container paths, RO and RW.
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
vol=s6-$$
mkdir -p /tmp/dvdi-s6-target
vols() {
  echo "[{\"container_path\":\"$1\",\"mode\":\"$2\",\"source\":{\"type\":\"DOCKER_VOLUME\",\"docker_volume\":{\"driver\":\"loop\",\"name\":\"$vol\",\"driver_options\":{\"parameter\":[{\"key\":\"size\",\"value\":\"64MiB\"}]}}}}]"
}
out=$(run_task 1 s6-writer "echo docker-volume > data/line.txt" --volumes="$(vols data RW)")
[ "$(echo "$out" | final_state)" = TASK_FINISHED ] || fail "writer: $out"
wait_for "the release after the writer ended" 60 not_mounted_on 1 "$vol"
out=$(run_task 1 s6-reader "grep -qx docker-volume /tmp/dvdi-s6-target/line.txt && ! touch /tmp/dvdi-s6-target/x" \
  --volumes="$(vols /tmp/dvdi-s6-target RO)")
[ "$(echo "$out" | final_state)" = TASK_FINISHED ] || fail "reader (read-only, absolute path): $out"
wait_for "the release after the reader ended" 60 not_mounted_on 1 "$vol"
rmdir /tmp/dvdi-s6-target
pass "DOCKER_VOLUME: written through a sandbox path, read read-only at an absolute path"
