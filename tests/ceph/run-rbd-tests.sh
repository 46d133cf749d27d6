#!/usr/bin/env bash
# Starts a throwaway Ceph cluster (tests/ceph/ceph-cluster.sh, bluestore on a file so that an OSD
# restart keeps the data), runs the rbd handler's tests against it and tears it down, whatever
# happens to the tests. Listens on 127.0.0.1 only.
set -u
here=$(cd "$(dirname "$0")" && pwd)
dir=$(mktemp -d /tmp/lunkit-ceph-XXXXXX)
trap '"$here/ceph-cluster.sh" destroy "$dir" >/dev/null 2>&1' EXIT
if ! "$here/ceph-cluster.sh" start "$dir" bluestore; then
  echo "the test cluster did not start"
  tail -20 "$dir"/log/*.log 2>/dev/null
  echo "lunkit-test: 0 passed, 1 failed"
  exit 1
fi
export LUNKIT_CEPH_DIR=$dir
# librados and librbd are not built with the sanitizers: leaks reported at their exit are theirs.
export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0
"$LUNKIT_BUILD_DIR/tests/unit/rbd_test" "$@"
