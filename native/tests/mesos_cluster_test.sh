#!/usr/bin/env bash
# ctest: the test cluster's six scenarios on a real Mesos (test-cluster/run-all.sh), with the
# module this build made. Skipped (exit 77), saying why, without a Mesos installation or root.
#   mesos_cluster_test.sh <first MESOS_ROOT entry or ""> <this build's directory>
set -uo pipefail
mesos="${1:-}"
build="$2"
repo="$(cd "$(dirname "$0")/../.." && pwd)"
if [ -z "$mesos" ]; then
  echo "SKIPPED: the test cluster scenarios need a Mesos installation: build with -Dmesos.root=<prefix> (Maven) or -DMESOS_ROOT=<prefix> (CMake)"
  exit 77
fi
if [[ "$mesos" == *"|"* ]]; then
  echo "SKIPPED: the test cluster needs an installed Mesos (a prefix), not a source and build tree: $mesos"
  exit 77
fi
if [ "$(id -u)" != 0 ]; then
  echo "SKIPPED: the test cluster needs root (mounts, loop devices, the linux launcher)"
  exit 77
fi
version="$(sed -n 's/^#define MESOS_VERSION "\(.*\)"/\1/p' "$mesos/include/mesos/version.hpp")"
export MESOS_HOME="$mesos"
export DVDI_MODULE="$build/native/mesos/libmesos_dvdi_isolator-$version.so"
export CLUSTER_DIR="${TMPDIR:-/tmp}/dvdi-cluster-ctest"
exec "$repo/test-cluster/run-all.sh"
