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
rc=$?
# A failure leaves what the cluster was doing in the log, before the cluster is destroyed: the
# OSD's ops in flight and the latest ones done, with their events (where an op waited), and the
# cluster's status (the PG statistics need a mgr, which this cluster has not).
if [ $rc -ne 0 ]; then
  echo "== the cluster after the failure:"
  asok=$dir/run/osd.0.asok
  timeout 20 ceph --admin-daemon "$asok" dump_ops_in_flight 2>&1 | head -150
  timeout 20 ceph --admin-daemon "$asok" dump_historic_ops 2>&1 | head -150
  timeout 20 ceph -c "$dir/ceph.conf" -s 2>&1 | head -20
fi
exit $rc
