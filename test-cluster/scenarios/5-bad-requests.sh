#!/usr/bin/env bash
# 5. Bad requests (an unknown DVDI variable, a path that escapes, an unknown driver): the task
#    fails with a clear message, and nothing leaks.
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
check() {
  local what="$1" env="$2" expect="$3" out
  out=$(run_task 1 "s5-$what" "true" --env="$env")
  [ "$(echo "$out" | final_state)" = TASK_FAILED ] || fail "$what: the task did not fail: $out"
  echo "$out" | grep -q "$expect" || fail "$what: the failure does not say '$expect': $out"
  echo "  $what: $(echo "$out" | grep -m1 -o "dvdi [A-Z_]*:.*" | cut -c1-160)"
}
check typo '{"DVDI_VOLUME_NAME":"s5a","DVDI_VOLUME_CONTAINERPAHT":"/data"}' "DVDI_VOLUME_CONTAINERPAHT is not a DVDI variable"
check traversal '{"DVDI_VOLUME_NAME":"s5b","DVDI_VOLUME_CONTAINERPATH":"../../etc"}' "may not contain '..'"
check driver '{"DVDI_VOLUME_NAME":"s5c","DVDI_VOLUME_DRIVER":"nosuchdriver"}' "nosuchdriver"
check dvdcli '{"DVDI_VOLUME_NAME":"s5d","DVDI_VOLUME_DVDCLI":"/tmp/x"}' "DVDI_VOLUME_DVDCLI is refused"
[ -z "$(leftovers)" ] || fail "leftovers: $(leftovers)"
[ "$(dvdi_cli 1 mounts --no-headers)" = "" ] || fail "dvdi state is not empty: $(dvdi_cli 1 mounts)"
pass "four bad requests failed their tasks with clear messages; nothing leaked"
