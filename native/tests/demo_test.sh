#!/usr/bin/env bash
# ctest: dvdi-demo refuses text that is not UTF-8 with a clear, escaped error (finding 12: it
# used to abort with SIGABRT and a core dump, nlohmann::json throwing in dump()).
#   demo_test.sh <dvdi-demo> <dvdi.jar>
set -uo pipefail
demo="$1"
jar="$2"
failures=0

# expect <name> <exit status> <text stderr must contain> -- <command...>
expect() {
  local name="$1" status="$2" text="$3"
  shift 4
  local out rc
  out="$("$@" 2>&1)"
  rc=$?
  if [ "$rc" != "$status" ] || [[ "$out" != *"$text"* ]]; then
    echo "FAIL $name: exit $rc (expected $status), output:"
    printf '%s\n' "$out" | sed 's/^/  | /'
    echo "  expected it to contain: $text"
    failures=$((failures + 1))
  else
    echo "ok   $name"
  fi
}

sandbox="$(mktemp -d "${TMPDIR:-/tmp}/dvdi-demo-test-XXXXXX")"
trap 'rm -rf "$sandbox"' EXIT
settings=(--set "state.dir=$sandbox/state" --set "mount.root=$sandbox/mounts" --sandbox "$sandbox")

expect finding12_volumeNameThatIsNotUtf8 125 \
  "dvdi INVALID_REQUEST: DVDI_VOLUME_NAME is not valid UTF-8: 'a\\xff\\x0ax'" -- \
  env DVDI_VOLUME_NAME="$(printf 'a\377\nx')" "$demo" --jar "$jar" "${settings[@]}" -- true
expect finding12_containerPathThatIsNotUtf8 125 \
  "dvdi INVALID_REQUEST: DVDI_VOLUME_CONTAINERPATH is not valid UTF-8: 'd\\xc3'" -- \
  env DVDI_VOLUME_NAME=v DVDI_VOLUME_CONTAINERPATH="$(printf 'd\303')" "$demo" --jar "$jar" "${settings[@]}" -- true
expect finding12_settingThatIsNotUtf8 2 "--set 'providers.loop.pool=/p\\xfe' is not valid UTF-8" -- \
  "$demo" --jar "$jar" --set "$(printf 'providers.loop.pool=/p\376')" -- true
expect finding12_containerIdThatIsNotUtf8 2 "--id 'c\\xff' is not valid UTF-8" -- \
  "$demo" --jar "$jar" --id "$(printf 'c\377')" -- true
# The Java side still answers what it refuses (a name outside its grammar), through the bridge.
expect volumeNameOutsideTheGrammar 125 "dvdi INVALID_REQUEST" -- \
  env DVDI_VOLUME_NAME="a/b" "$demo" --jar "$jar" "${settings[@]}" -- true

[ "$failures" = 0 ] || exit 1
