#!/bin/bash
# Imbalanced load on ublk, inside the Linux 6.18 test VM (`LUNKIT_VM_KERNEL=6.18 bench/compare.sh
# BUILD ublk-imbalance`): a device with two queues, fio pinned to CPU 0, so every request lands on
# queue 0. Served with one thread per queue (the default: queue 0's thread, pinned to CPU 0, does
# all the work beside fio while queue 1's idles) and with per-I/O daemons (`--threads 2`: both
# threads serve queue 0's tags). Handlers: null (the server's own cost) and file on a RAM disk
# (zero copy). Each workload runs in $ROUNDS rounds, the order reversed every other round.
source "$LUNKIT_SRC/bench/vm/bench-lib.sh"
WORKLOADS="randread-4k-qd32:randread:4k:32 randwrite-4k-qd32:randwrite:4k:32"
ROUNDS=${LUNKIT_BENCH_ROUNDS:-3}
IMG=/dev/ram0
FIO_EXTRA="--cpus_allowed=0"
begin_results

serve() {  # serve CONFIG ARGS...
  local config=$1
  shift
  if start_ublk --queues 2 "$@"; then
    "$LUNKIT_CLI" ublk list | tee -a "$R/ublk-list.txt"
    cat "/sys/block/${UBLK_DEV#/dev/}/mq/0/cpu_list" | sed 's/^/queue 0 CPUs: /' | tee -a "$R/ublk-list.txt"
    run_workloads "$config" "$UBLK_DEV" "$UBLK_PID"
    kill -TERM "$UBLK_PID"; wait_pid "$UBLK_PID" 60 || say "ublk server did not exit"
    grep "$UBLK_DEV removed:" "$R/ublk.stderr" | tail -1 | tee -a "$R/ublk-removed.txt"
  else
    failed_config "$config" "lunkit ublk add failed: $(tail -1 "$R/ublk.stderr")"
  fi
}
null_per_queue() { serve lunkit-ublk-null-per-queue --handler null --size ${SIZE_MB}M; }
null_per_io() { serve lunkit-ublk-null-per-io --handler null --size ${SIZE_MB}M --threads 2; }
file_per_queue() { serve lunkit-ublk-file-per-queue --handler file --cfg "$IMG"; }
file_per_io() { serve lunkit-ublk-file-per-io --handler file --cfg "$IMG" --threads 2; }

install_handlers
modprobe ublk_drv
modprobe brd rd_nr=1 rd_size=$((SIZE_MB * 1024))
fill_image
order=""
for path in null_per_queue null_per_io file_per_queue file_per_io; do
  wanted "lunkit-ublk-$(tr _ - <<<"$path")" && order+="$path "
done
run_rounds $order
