#!/bin/bash
# The rbd benchmark, inside the test VM (run by bench/compare.sh rbd): a single-node Ceph cluster
# in the guest and one RBD image, read and written 4 KiB at random at depth 1 and 32 through
#   lunkit TCMU (lunkitd, user:rbd on tcm_loop), lunkit ublk (the same handler),
#   tcmu-runner's own user:rbd from Debian,
#   fio's rbd engine and `rbd bench` (librbd used directly: the ceiling).
source "$LUNKIT_SRC/bench/vm/bench-lib.sh"
WORKLOADS="randwrite-4k-qd1:randwrite:4k:1 randwrite-4k-qd32:randwrite:4k:32
randread-4k-qd1:randread:4k:1 randread-4k-qd32:randread:4k:32"
CEPH_VM=/tmp/ceph-bench
CONF=$CEPH_VM/ceph.conf
CFG="rbd/bench;conf=$CONF"
begin_results

rbd_bench() {  # rbd_bench: rbd bench's own numbers for each workload
  local w name rw bs qd type cpu
  say "rbd-bench"
  for w in $WORKLOADS; do
    IFS=: read -r name rw bs qd <<<"$w"
    type=${rw#rand}
    bs=${bs^^}  # rbd wants 4K
    # As many operations as fio does in RUNTIME seconds at the other paths' rates is unknown up
    # front: a fixed total that takes a few seconds here.
    cpu=$(/usr/bin/python3 -c '
import resource, subprocess, sys
with open("/tmp/rbd-bench.out", "w") as out:
    subprocess.run(sys.argv[1:], stdout=out, stderr=subprocess.STDOUT)
r = resource.getrusage(resource.RUSAGE_CHILDREN)
print(r.ru_utime + r.ru_stime)' rbd -c "$CONF" bench --io-type "$type" --io-pattern rand --io-size "$bs" \
      --io-threads "$qd" --io-total "${RBD_BENCH_TOTAL:-24M}" rbd/bench)
    $REPORT rbd-bench-row /tmp/rbd-bench.out rbd-bench "$name" "$bs" "$qd" "$cpu" >>"$OUT"
    tail -1 "$OUT"
  done
}

tcmu_runner_rbd() {
  start_tcmu_runner || { failed_config tcmu-runner-rbd "tcmu-runner is not installed or did not start"; return; }
  backstore_workloads tcmu-runner-rbd "$TCMU_RUNNER_PID" /backstores/user:rbd t0 size=${SIZE_MB}M cfgstring="$CFG"
  stop_tcmu_runner
}

# cleanup_targets (tests/vm/lib.sh) would also destroy the cluster.
cleanup_targets_keep_ceph() {
  timeout 120 targetcli clearconfig confirm=True >/dev/null 2>&1
  pkill -TERM -f daemon/.libs/lunkitd 2>/dev/null || true
  for _ in $(seq 1 100); do pgrep -f daemon/.libs/lunkitd >/dev/null || break; sleep 0.1; done
  pkill -KILL -f daemon/.libs/lunkitd 2>/dev/null || true
}
TARGETS_CLEANUP=cleanup_targets_keep_ceph

install_handlers
modprobe target_core_user; modprobe tcm_loop
"$SRC/tests/ceph/ceph-cluster.sh" start "$CEPH_VM" memstore
# Every client without librbd's write-back cache, as tcmu-runner and lunkit run by default: the
# numbers are those of the cluster, not of a cache in front of it.
printf '[client]\nrbd_cache = false\n' >>"$CONF"
rbd -c "$CONF" create --size ${SIZE_MB}M rbd/bench
# Written once in full, so that reads read data.
rbd -c "$CONF" bench --io-type write --io-pattern seq --io-size 4M --io-threads 4 \
  --io-total ${SIZE_MB}M rbd/bench >/dev/null
wanted lunkit-tcmu-rbd && tcmu_lunkit rbd "$CFG"
wanted lunkit-ublk-rbd && ublk_lunkit rbd --cfg "$CFG"
wanted tcmu-runner-rbd && tcmu_runner_rbd
wanted fio-librbd && run_workloads fio-librbd "rbd:$CFG" fio
wanted rbd-bench && rbd_bench
"$SRC/tests/ceph/ceph-cluster.sh" destroy "$CEPH_VM"
say "benchmark done"
