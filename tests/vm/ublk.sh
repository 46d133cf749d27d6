#!/bin/bash
# ublk scenarios for the test VM (sourced by scenarios.sh): `lunkit ublk` serving handlers as
# /dev/ublkbN against the real ublk_drv.

# The disk's counters (/sys/block/X/stat): field 16 is flush requests completed.
flushes_of() { awk '{print $16}' "/sys/block/${1##*/}/stat"; }
one_line_error() {  # one_line_error FILE PATTERN: exactly one line, which matches
  cat "$1"
  [ "$(wc -l < "$1")" -eq 1 ] && grep -q "$2" "$1"
}
nothing_left() { [ -z "$(ublk_ids)" ] && ! ls /dev/ublkb* >/dev/null 2>&1; }

# ---- command-line errors: each one line, a non-zero exit, nothing left behind ----
s_ublk_cli() {
  install_handlers
  modprobe -r ublk_drv 2>/dev/null || true
  if "$LUNKIT_CLI" ublk add --handler null --size 64M --handler-dir /tmp/handlers 2>/tmp/e; then
    fail_scenario "add succeeded without ublk_drv"
  fi
  expect "a missing module is one line naming it" one_line_error /tmp/e "ublk_drv"
  modprobe ublk_drv
  expect "the control device exists" test -c /dev/ublk-control
  local rc=0
  "$LUNKIT_CLI" ublk add --handler file --cfg /nonexistent/u.img --handler-dir /tmp/handlers 2>/tmp/e || rc=$?
  expect "a handler that cannot open fails" test "$rc" -ne 0
  expect "its reason in one line" one_line_error /tmp/e "No such file or directory"
  expect "nothing left after a failed open" nothing_left
  rc=0; "$LUNKIT_CLI" ublk add --handler nope --handler-dir /tmp/handlers 2>/tmp/e || rc=$?
  expect "an unknown handler fails" test "$rc" -ne 0
  expect "it names the handlers there are" one_line_error /tmp/e "no handler 'nope'.*file"
  rc=0; "$LUNKIT_CLI" ublk add --handler null --size 64M --queues 99 2>/tmp/e || rc=$?
  expect "--queues 99 is a usage error" test "$rc" -eq 2
  expect "it says the range" one_line_error /tmp/e "must be 1 to 32"
  rc=0; "$LUNKIT_CLI" ublk add --handler ram --size 64M --queues 2 --handler-dir /tmp/handlers 2>/tmp/e || rc=$?
  expect "ram refuses two queues" test "$rc" -ne 0
  expect "the reason" one_line_error /tmp/e "one queue at a time"
  truncate -s 64M /var/lib/lunkit/small.img
  rc=0; "$LUNKIT_CLI" ublk add --handler file --cfg /var/lib/lunkit/small.img --size 128M --handler-dir /tmp/handlers 2>/tmp/e || rc=$?
  expect "a size that does not match the file fails" test "$rc" -ne 0
  expect "and says so" one_line_error /tmp/e "67108864 bytes"
  rc=0; "$LUNKIT_CLI" ublk add --handler null --handler-dir /tmp/handlers 2>/tmp/e || rc=$?
  expect "null without a size fails" test "$rc" -ne 0
  expect "asking for one" one_line_error /tmp/e "size"
  rc=0; "$LUNKIT_CLI" ublk del 42 2>/tmp/e || rc=$?
  expect "deleting a device that does not exist fails" test "$rc" -ne 0
  expect "naming it" one_line_error /tmp/e "no ublk device 42"
  expect "nothing left at all" nothing_left
}

# A CPU list ("0-2,5" or "0, 1") as one number a line.
cpus_of() {
  tr ',' '\n' <<<"$1" | tr -d ' ' | awk -F- 'NF { for (c = $1; c <= (NF > 1 ? $2 : $1); c++) print c }' | sort -n
}
# queue_threads_pinned PID DISK QUEUES: each queue M has a thread named ublkN/qM whose allowed CPUs
# are the ones the kernel maps to hardware queue M.
queue_threads_pinned() {
  local pid=$1 disk=$2 queues=$3 id=${2#ublkb} q task found allowed mapped
  for q in $(seq 0 $((queues - 1))); do
    found=
    for task in /proc/"$pid"/task/*; do
      [ "$(cat "$task/comm")" = "ublk$id/q$q" ] && found=$task
    done
    [ -n "$found" ] || { echo "no thread ublk$id/q$q"; return 1; }
    allowed=$(cpus_of "$(awk '/^Cpus_allowed_list/ {print $2}' "$found/status")")
    mapped=$(cpus_of "$(cat "/sys/block/$disk/mq/$q/cpu_list")")
    echo "ublk$id/q$q: runs on $(echo $allowed), queue $q has CPUs $(echo $mapped)"
    [ -n "$mapped" ] && [ "$allowed" = "$mapped" ] || return 1
  done
}

# How many reads and writes the server of DEV, now removed, served on the request's own pages
# (its "removed: N requests (M zero-copy)" line).
zero_copy_of() {
  grep "$1 removed:" "$R/ublk.stderr" | tail -1 | sed -n 's/.* requests (\([0-9]*\) zero-copy).*/\1/p'
}
# The requests each server thread of DEVICE served, "N M", from its server's last line.
requests_per_thread_of() {
  grep "$1 removed:" "$R/ublk.stderr" | tail -1 | sed -n 's/.*requests per thread: \([0-9 ]*\)$/\1/p'
}
# server_threads PID ID: the names of the server threads of ublkbID, sorted, on one line.
server_threads() {
  local task names=
  for task in /proc/"$1"/task/*; do
    case $(cat "$task/comm") in "ublk$2/"*) names="$names $(cat "$task/comm")" ;; esac
  done
  echo $names | tr ' ' '\n' | sort | tr '\n' ' ' | sed 's/ $//'
}

# ---- a file-backed device: file systems, fio verify, discard, write zeroes, flush ----
s_ublk() {
  modprobe ublk_drv
  truncate -s 256M /var/lib/lunkit/u0.img
  start_ublk --handler file --cfg /var/lib/lunkit/u0.img
  local dev=$UBLK_DEV id=$UBLK_ID
  say "device $dev"
  expect "the size is the file's" test "$(blockdev --getsize64 "$dev")" = 268435456
  expect "a volatile write cache" grep -q "write back" "/sys/block/ublkb$id/queue/write_cache"
  expect "discard is offered (the file can punch holes)" test "$(cat /sys/block/ublkb$id/queue/discard_max_bytes)" -gt 0
  expect "write zeroes is offered" test "$(cat /sys/block/ublkb$id/queue/write_zeroes_max_bytes)" -gt 0
  "$LUNKIT_CLI" ublk list | tee /tmp/list
  expect "list shows it live, with its handler" grep -qE "ublkb$id +live .* file +[^ ]+ +/var/lib/lunkit/u0.img" /tmp/list
  local features
  features=$(features_of "$id")
  if kernel_is_6_12; then  # no UBLK_F_AUTO_BUF_REG: the data is copied through lunkit's buffers
    expect "6.12 has no zero copy" lacks_feature "$id" auto-buf-reg
  else
    expect "the file handler is served with zero copy" has_feature "$features" auto-buf-reg
  fi
  ext4_round_trip "$dev" /mnt/u
  fio_verify "$dev" 32M /tmp/fio.txt --iodepth=16
  cat /tmp/fio.txt
  expect "fio verify without errors" grep -q "err= 0" /tmp/fio.txt
  dd if=/dev/urandom of="$dev" bs=1M count=4 seek=64 oflag=direct status=none
  blkdiscard -o $((64 << 20)) -l $((4 << 20)) "$dev"
  expect "a discarded range reads zeros" cmp -n $((4 << 20)) /dev/zero <(dd if="$dev" bs=1M skip=64 count=4 iflag=direct status=none)
  dd if=/dev/urandom of="$dev" bs=1M count=4 seek=80 oflag=direct status=none
  blkdiscard -z -o $((80 << 20)) -l $((4 << 20)) "$dev"
  expect "a zeroed range reads zeros" cmp -n $((4 << 20)) /dev/zero <(dd if="$dev" bs=1M skip=80 count=4 iflag=direct status=none)
  local f0 f1
  f0=$(flushes_of "$dev")
  dd if=/dev/urandom of="$dev" bs=4k count=1 seek=10 conv=fsync status=none
  f1=$(flushes_of "$dev")
  say "flushes $f0 -> $f1"
  expect "fsync reaches the device as a flush" test "$f1" -gt "$f0"
  expect "the data is in the file" cmp <(dd if="$dev" bs=4k skip=10 count=1 iflag=direct status=none) <(dd if=/var/lib/lunkit/u0.img bs=4k skip=10 count=1 status=none)
  # Reads and writes the disk completed (fields 1 and 5), against those the server says it served
  # on the request's own pages.
  local rw
  rw=$(awk '{print $1 + $5}' "/sys/block/ublkb$id/stat")
  kill -TERM "$UBLK_PID"
  wait_pid "$UBLK_PID" 60 || fail_scenario "lunkit did not exit cleanly after SIGTERM"
  expect "the device is deleted" nothing_left
  local zero_copy
  zero_copy=$(zero_copy_of "$dev")
  say "the disk completed $rw reads and writes (write zeroes among them); $zero_copy were zero copy"
  if kernel_is_6_12; then
    expect "no request was zero copy" test "$zero_copy" = 0
  else
    expect "reads and writes were zero copy" test "$zero_copy" -gt 0 -a "$zero_copy" -le "$rw"
  fi
}

# ---- several queues, the null, ram and a blocking handler, read-only ----
s_ublk_queues() {
  modprobe ublk_drv
  truncate -s 128M /var/lib/lunkit/q.img
  start_ublk --handler file --cfg /var/lib/lunkit/q.img --queues 2 --depth 64
  local dev=$UBLK_DEV pid=$UBLK_PID
  expect "two hardware queues" test "$(ls /sys/block/${dev##*/}/mq | wc -l)" -eq 2
  expect "each queue thread runs on its queue's CPUs" queue_threads_pinned "$pid" "${dev##*/}" 2
  # Two jobs on two CPUs, each on its own half: both queues carry I/O.
  fio --name=q --filename="$dev" --rw=randwrite --bs=4k --size=32M --offset_increment=64M \
      --numjobs=2 --cpus_allowed_policy=split --cpus_allowed=0,1 --ioengine=libaio --iodepth=16 \
      --direct=1 --verify=crc32c --do_verify=1 --verify_fatal=1 --output=/tmp/fio-q.txt
  cat /tmp/fio-q.txt
  expect "fio verify on two queues" test "$(grep -c 'err= 0' /tmp/fio-q.txt)" -eq 2
  local rw zero_copy  # nothing but reads and writes reached this disk (fields 1 and 5)
  rw=$(awk '{print $1 + $5}' "/sys/block/${dev##*/}/stat")
  kill -TERM "$pid"; wait_pid "$pid" 60 || fail_scenario "file server did not exit"
  zero_copy=$(zero_copy_of "$dev")
  say "the disk completed $rw reads and writes, $zero_copy of them zero copy"
  if kernel_is_6_12; then
    expect "6.12: every request copied" test "$zero_copy" = 0
  else
    expect "every read and write on both queues was zero copy" test "$zero_copy" = "$rw"
  fi

  # Per-I/O daemons: one queue, two server threads, fio on both CPUs. On 6.18 (UBLK_F_PER_IO_DAEMON)
  # both threads serve the one queue's tags; 6.12 serves it with one thread and says why.
  start_ublk --handler file --cfg /var/lib/lunkit/q.img --queues 1 --threads 2 --depth 64
  dev=$UBLK_DEV; pid=$UBLK_PID
  local threads
  threads=$(server_threads "$pid" "${dev#/dev/ublkb}")
  say "server threads of $dev: $threads"
  if kernel_is_6_12; then
    expect "6.12: one thread for the queue" test "$threads" = "ublk${dev#/dev/ublkb}/q0"
    expect "6.12: the log says why" grep -q "lacks UBLK_F_PER_IO_DAEMON" "$R/ublk.stderr"
    expect "6.12: not listed as per-I/O daemons" lacks_feature "${dev#/dev/ublkb}" per-io-daemon
  else
    expect "two server threads" test "$threads" = "ublk${dev#/dev/ublkb}/t0 ublk${dev#/dev/ublkb}/t1"
    expect "listed as per-I/O daemons" has_feature "$(features_of "${dev#/dev/ublkb}")" per-io-daemon
  fi
  fio --name=p --filename="$dev" --rw=randwrite --bs=4k --size=32M --offset_increment=64M \
      --numjobs=2 --cpus_allowed_policy=split --cpus_allowed=0,1 --ioengine=libaio --iodepth=16 \
      --direct=1 --verify=crc32c --do_verify=1 --verify_fatal=1 --output=/tmp/fio-p.txt
  cat /tmp/fio-p.txt
  expect "fio verify with two threads on one queue" test "$(grep -c 'err= 0' /tmp/fio-p.txt)" -eq 2
  rw=$(awk '{print $1 + $5}' "/sys/block/${dev##*/}/stat")
  kill -TERM "$pid"; wait_pid "$pid" 60 || fail_scenario "per-I/O daemon server did not exit"
  local per_thread
  per_thread=$(requests_per_thread_of "$dev")
  say "requests per thread: $per_thread (the disk completed $rw reads and writes)"
  if kernel_is_6_12; then
    expect "6.12: one thread served them all" test "$per_thread" = "$rw"
  else
    # shellcheck disable=SC2086
    set -- $per_thread
    expect "both threads served the one queue" test "$#" = 2 -a "${1:-0}" -gt 0 -a "${2:-0}" -gt 0
    expect "between them, every request" test "$((${1:-0} + ${2:-0}))" = "$rw"
    expect "zero copy with per-I/O daemons" test "$(zero_copy_of "$dev")" = "$rw"
  fi

  # The file handler on a block device (a RAM disk, whose node is on devtmpfs): its I/O goes
  # through io_uring, as a disk's must, so it can be zero copy.
  modprobe brd rd_nr=1 rd_size=65536
  start_ublk --handler file --cfg /dev/ram0
  dev=$UBLK_DEV; pid=$UBLK_PID
  if kernel_is_6_12; then
    expect "6.12: no zero copy for the RAM disk either" lacks_feature "${dev#/dev/ublkb}" auto-buf-reg
  else
    expect "a block device under the file handler is served with zero copy" \
      has_feature "$(features_of "${dev#/dev/ublkb}")" auto-buf-reg
  fi
  fio_verify "$dev" 16M /tmp/fio-brd.txt --iodepth=8
  expect "fio verify on the RAM disk" grep -q "err= 0" /tmp/fio-brd.txt
  kill -TERM "$pid"; wait_pid "$pid" 60 || fail_scenario "file server on /dev/ram0 did not exit"
  rmmod brd

  start_ublk --handler null --size 1G --queues 2
  dev=$UBLK_DEV; pid=$UBLK_PID
  fio --name=n --filename="$dev" --rw=randread --bs=4k --size=256M --numjobs=2 --ioengine=libaio \
      --iodepth=32 --direct=1 --runtime=3 --time_based --group_reporting --output=/tmp/fio-n.txt
  cat /tmp/fio-n.txt
  expect "null serves reads on two queues" grep -q "err= 0" /tmp/fio-n.txt
  expect "null reads zeros" cmp -n $((1 << 20)) /dev/zero <(dd if="$dev" bs=1M count=1 iflag=direct status=none)
  kill -TERM "$pid"; wait_pid "$pid" 60 || fail_scenario "null server did not exit"

  start_ublk --handler ram --size 64M
  dev=$UBLK_DEV; pid=$UBLK_PID
  expect "ram copies itself: no zero copy" lacks_feature "${dev#/dev/ublkb}" auto-buf-reg
  dd if=/dev/urandom of=/tmp/ram bs=1M count=4 status=none
  dd if=/tmp/ram of="$dev" bs=1M seek=3 oflag=direct status=none
  expect "ram keeps what was written" cmp /tmp/ram <(dd if="$dev" bs=1M skip=3 count=4 iflag=direct status=none)
  kill -TERM "$pid"; wait_pid "$pid" 60 || fail_scenario "ram server did not exit"

  start_ublk --handler file --cfg /var/lib/lunkit/q.img --read-only --no-zero-copy
  dev=$UBLK_DEV; pid=$UBLK_PID
  expect "read-only" test "$(blockdev --getro "$dev")" = 1
  expect "--no-zero-copy: the kernel copies" lacks_feature "${dev#/dev/ublkb}" auto-buf-reg
  if dd if=/dev/zero of="$dev" bs=4k count=1 oflag=direct status=none 2>/tmp/e; then
    fail_scenario "a write to a read-only device succeeded"
  fi
  expect "reads work" dd if="$dev" of=/dev/null bs=1M count=4 iflag=direct status=none
  kill -TERM "$pid"; wait_pid "$pid" 60 || fail_scenario "read-only server did not exit"
  expect "all deleted" nothing_left
}

# ---- handler errors are I/O errors on the block device, not hangs ----
s_ublk_errors() {
  modprobe ublk_drv
  dmesg -C
  # A blocking handler (worker pool) that fails everything past 32 MiB with EIO, and its first
  # three I/Os (the kernel's partition scan) with EBUSY, which the server retries.
  start_ublk --handler faulty --cfg "eio_from=$((32 << 20));busy_first=3" --size 64M
  local dev=$UBLK_DEV pid=$UBLK_PID
  expect "the transient EBUSY was retried, not an I/O error" sh -c "! dmesg | grep -qiE 'I/O error.*${dev##*/}|${dev##*/}.*I/O error'"
  dd if=/dev/urandom of=/tmp/good bs=1M count=2 status=none
  dd if=/tmp/good of="$dev" bs=1M seek=4 oflag=direct status=none
  expect "the good half works (through the pool)" cmp /tmp/good <(dd if="$dev" bs=1M skip=4 count=2 iflag=direct status=none)
  local rc=0
  timeout 60 dd if="$dev" of=/dev/null bs=4k skip=$((40 << 8)) count=1 iflag=direct 2>/tmp/e || rc=$?
  cat /tmp/e
  expect "a read past 32 MiB fails, without hanging" test "$rc" -ne 0 -a "$rc" -ne 124
  expect "as an I/O error" grep -qi "Input/output error" /tmp/e
  rc=0
  timeout 60 dd if=/dev/zero of="$dev" bs=4k seek=$((40 << 8)) count=1 oflag=direct 2>/tmp/e || rc=$?
  expect "a write past 32 MiB fails, without hanging" test "$rc" -ne 0 -a "$rc" -ne 124
  dmesg | grep -i "${dev##*/}" | tail -5
  expect "the kernel logged the I/O error" sh -c "dmesg | grep -qiE 'I/O error.*${dev##*/}|${dev##*/}.*I/O error'"
  kill -TERM "$pid"; wait_pid "$pid" 60 || fail_scenario "faulty server did not exit"
  expect "the server counted the three retries" grep -q ", 3 retries (0 given up)" "$R/ublk.stderr"

  # A full file system under the file handler: writes fail with ENOSPC.
  mkdir -p /mnt/small
  mount -t tmpfs -o size=8M tmpfs /mnt/small
  truncate -s 64M /mnt/small/sparse.img
  start_ublk --handler file --cfg /mnt/small/sparse.img
  dev=$UBLK_DEV; pid=$UBLK_PID
  rc=0
  timeout 120 dd if=/dev/urandom of="$dev" bs=1M count=16 oflag=direct 2>/tmp/e || rc=$?
  cat /tmp/e
  expect "writing past the full file system fails, without hanging" test "$rc" -ne 0 -a "$rc" -ne 124
  expect "as no space" grep -qiE "No space left|Input/output error" /tmp/e
  expect "the server is still running" kill -0 "$pid"
  expect "and still reads" dd if="$dev" of=/dev/null bs=1M count=1 iflag=direct status=none
  kill -TERM "$pid"; wait_pid "$pid" 60 || fail_scenario "file server did not exit"
  umount /mnt/small
  expect "all deleted" nothing_left
}

# ---- stop and delete while fio runs ----
s_ublk_stop() {
  modprobe ublk_drv
  truncate -s 128M /var/lib/lunkit/s.img
  start_ublk --handler file --cfg /var/lib/lunkit/s.img
  local dev=$UBLK_DEV pid=$UBLK_PID id=$UBLK_ID
  fio --name=busy --filename="$dev" --rw=randwrite --bs=4k --size=64M --ioengine=libaio --iodepth=16 \
      --direct=1 --time_based --runtime=120 --output=/tmp/fio-busy.txt &
  local fio=$!
  wait_for_writes "$dev" 2000
  timeout 60 "$LUNKIT_CLI" ublk del "$id" || fail_scenario "lunkit ublk del did not return"
  local frc=0
  wait_pid "$fio" 60 || frc=$?
  expect "fio ended" test "$frc" -ne 124
  wait_pid "$pid" 60 || fail_scenario "the server did not exit 0 after its device was deleted"
  expect "the server noticed" grep -q "was stopped by someone else" "$R/ublk.stderr"
  expect "deleted under I/O" nothing_left

  start_ublk --handler file --cfg /var/lib/lunkit/s.img
  dev=$UBLK_DEV; pid=$UBLK_PID
  fio --name=busy --filename="$dev" --rw=randrw --bs=4k --size=64M --ioengine=libaio --iodepth=16 \
      --direct=1 --time_based --runtime=120 --output=/tmp/fio-busy2.txt &
  fio=$!
  wait_for_writes "$dev" 2000
  kill -TERM "$pid"
  wait_pid "$pid" 60 || fail_scenario "SIGTERM under I/O did not end the server cleanly"
  frc=0
  wait_pid "$fio" 60 || frc=$?
  expect "fio ended" test "$frc" -ne 124
  expect "deleted after SIGTERM under I/O" nothing_left
}

# ---- a killed server, recovered without losing the device or data ----
s_ublk_recover() {
  modprobe ublk_drv
  dmesg -C
  truncate -s 128M /var/lib/lunkit/r.img
  start_ublk --handler file --cfg /var/lib/lunkit/r.img
  local dev=$UBLK_DEV pid=$UBLK_PID id=$UBLK_ID
  fio_verify "$dev" 48M /tmp/fio-recover.txt &
  local fio=$!
  wait_for_writes "$dev" 3000
  say "SIGKILL the server"
  kill -KILL "$pid"
  wait "$pid" 2>/dev/null || true
  local state=
  for _ in $(seq 1 100); do
    state=$("$LUNKIT_CLI" ublk list | awk -v d="ublkb$id" '$1 == d {print $2}')
    [ "$state" = quiesced ] && break
    sleep 0.1
  done
  "$LUNKIT_CLI" ublk list | tee /tmp/list
  expect "the device waits, quiesced" test "$state" = quiesced
  expect "in-flight I/O is reissued" grep -qE "ublkb$id .* recovery,reissue" /tmp/list
  expect "the block device is still there" test -b "$dev"
  local out=/tmp/ublk-recover.out
  "$LUNKIT_CLI" ublk recover "$id" --handler-dir /tmp/handlers --log-level info >"$out" 2>>"$R/ublk.stderr" &
  pid=$!
  for _ in $(seq 1 300); do grep -q "$dev" "$out" && break; sleep 0.1; done
  expect "recover serves the same device" grep -q "^$dev\$" "$out"
  wait_pid "$fio" 300 || fail_scenario "fio failed across the recovery"
  cat /tmp/fio-recover.txt
  expect "fio verify passed with zero errors" grep -q "err= 0" /tmp/fio-recover.txt
  if dmesg | grep -i "${dev##*/}" | grep -qi "I/O error"; then
    fail_scenario "the kernel logged I/O errors for ${dev##*/}"
  fi
  kill -TERM "$pid"; wait_pid "$pid" 60 || fail_scenario "the recovered server did not exit"
  expect "deleted" nothing_left
}

# The FEATURES column of `lunkit ublk list` for device ID.
features_of() { "$LUNKIT_CLI" ublk list | awk -v d="ublkb$1" '$1 == d {print $8}'; }
has_feature() { [[ ",$1," == *",$2,"* ]]; }  # has_feature FEATURES NAME
lacks_feature() {  # lacks_feature ID NAME: the device is listed, without NAME among its features
  local f
  f=$(features_of "$1")
  echo "ublkb$1 features: $f"
  [ -n "$f" ] && ! has_feature "$f" "$2"
}
# Linux 6.12's ublk has neither online resize nor QUIESCE_DEV; the other kernels tested have both.
kernel_is_6_12() { case $(uname -r) in 6.12.*) return 0 ;; *) return 1 ;; esac; }

# ---- a mounted device grows with its file (UBLK_F_UPDATE_SIZE), or says why it cannot ----
s_ublk_resize() {
  modprobe ublk_drv
  truncate -s 64M /var/lib/lunkit/g.img
  start_ublk --handler file --cfg /var/lib/lunkit/g.img
  local dev=$UBLK_DEV pid=$UBLK_PID id=$UBLK_ID rc=0
  mkfs.ext4 -q -F "$dev"
  mkdir -p /mnt/g
  mount "$dev" /mnt/g
  dd if=/dev/urandom of=/tmp/before bs=1M count=8 status=none
  cp /tmp/before /mnt/g/before
  sync
  local features
  features=$(features_of "$id")
  say "features $features"
  if kernel_is_6_12; then
    expect "no resize on 6.12" sh -c "! echo '$features' | grep -q resize"
    truncate -s 128M /var/lib/lunkit/g.img
    "$LUNKIT_CLI" ublk resize "$id" 128M 2>/tmp/e || rc=$?
    expect "resize is refused" test "$rc" -eq 1
    expect "in one line naming the missing feature" one_line_error /tmp/e "UBLK_F_UPDATE_SIZE"
    expect "the size is unchanged" test "$(blockdev --getsize64 "$dev")" = 67108864
  else
    expect "the device can be resized" has_feature "$features" resize
    # The storage first: a size the file does not have is refused by the handler.
    "$LUNKIT_CLI" ublk resize "$id" 128M 2>/tmp/e || rc=$?
    expect "a size the file does not have is refused" test "$rc" -eq 1
    expect "in one line" one_line_error /tmp/e "file handler refused 134217728 bytes"
    expect "the handler said why" grep -q "make it 134217728 bytes" "$R/ublk.stderr"
    rc=0; "$LUNKIT_CLI" ublk resize "$id" 1000 2>/tmp/e || rc=$?
    expect "a size that is not whole blocks is refused" test "$rc" -eq 1
    expect "naming the block size" one_line_error /tmp/e "block size (512)"
    truncate -s 128M /var/lib/lunkit/g.img
    expect "resize succeeds while mounted" "$LUNKIT_CLI" ublk resize "$id" 128M
    expect "the kernel sees the new size at once" test "$(blockdev --getsize64 "$dev")" = 134217728
    expect "list shows it" sh -c "$LUNKIT_CLI ublk list | grep -qE 'ublkb$id +live .* 134217728 '"
    expect "ext4 grows into it online" resize2fs "$dev"
    dd if=/dev/urandom of=/tmp/after bs=1M count=80 status=none
    expect "the grown file system takes more than the old disk held" cp /tmp/after /mnt/g/after
    sync
    echo 3 >/proc/sys/vm/drop_caches
    expect "what was written past the old end reads back" cmp /tmp/after /mnt/g/after
    expect "the new blocks reached the file" test "$(du -m /var/lib/lunkit/g.img | cut -f1)" -gt 64
    rm /mnt/g/after
    # Shrinking: the file system, then the disk (the kernel stops sending what is past the end),
    # then the file.
    umount /mnt/g
    e2fsck -fy "$dev" >/dev/null 2>&1 || true  # resize2fs shrinks only a just-checked file system
    resize2fs "$dev" 96M >/dev/null 2>&1 || fail_scenario "resize2fs could not shrink to 96M"
    truncate -s 112M /var/lib/lunkit/g.img
    expect "shrinking succeeds" "$LUNKIT_CLI" ublk resize "$id" 112M
    expect "the kernel sees the smaller size" test "$(blockdev --getsize64 "$dev")" = 117440512
    expect "nothing is read past the new end" \
      test "$(dd if="$dev" bs=1M skip=112 count=1 iflag=direct status=none | wc -c)" -eq 0
    mount "$dev" /mnt/g
  fi
  expect "the data from before reads back" cmp /tmp/before /mnt/g/before
  umount /mnt/g
  expect "fsck finds ext4 clean" fsck.ext4 -fn "$dev"
  kill -TERM "$pid"; wait_pid "$pid" 60 || fail_scenario "the server did not exit cleanly"
  expect "deleted" nothing_left
}

# ---- a live device handed over to a new server under fio verify, with no error ----
s_ublk_handover() {
  modprobe ublk_drv
  dmesg -C
  truncate -s 128M /var/lib/lunkit/h.img
  start_ublk --handler file --cfg /var/lib/lunkit/h.img
  local dev=$UBLK_DEV old=$UBLK_PID id=$UBLK_ID features
  features=$(features_of "$id")
  say "features $features"
  # fio verify on a file in a mounted ext4: the hand-over must leave the file system clean too.
  mkfs.ext4 -q -F "$dev"
  mkdir -p /mnt/h
  mount "$dev" /mnt/h
  fio_verify /mnt/h/verify.dat 64M /tmp/fio-handover.txt --iodepth=16 &
  local fio=$!
  wait_for_writes "$dev" 3000
  if kernel_is_6_12; then
    # No QUIESCE_DEV: the running server refuses to hand over and keeps serving.
    expect "6.12 has no QUIESCE_DEV" sh -c "! echo '$features' | grep -q quiesce"
    local refused=0
    "$LUNKIT_CLI" ublk recover "$id" --handler-dir /tmp/handlers 2>/tmp/e || refused=$?
    expect "the hand-over is refused" test "$refused" -eq 1
    expect "in one line naming UBLK_F_QUIESCE" one_line_error /tmp/e "UBLK_F_QUIESCE"
    expect "the old server keeps serving" kill -0 "$old"
    wait_pid "$fio" 300 || fail_scenario "fio failed while the hand-over was refused"
    expect "fio verify passed with zero errors" grep -q "err= 0" /tmp/fio-handover.txt
    umount /mnt/h
    expect "fsck finds ext4 clean" fsck.ext4 -fn "$dev"
    kill -TERM "$old"; wait_pid "$old" 60 || fail_scenario "the server did not exit cleanly"
    expect "deleted" nothing_left
    return 0
  fi
  expect "the device was created with quiesce" has_feature "$features" quiesce
  local out=/tmp/ublk-handover.out new
  say "recover $id while pid $old serves it"
  "$LUNKIT_CLI" ublk recover "$id" --handler-dir /tmp/handlers --log-level info >"$out" 2>>"$R/ublk.stderr" &
  new=$!
  for _ in $(seq 1 300); do grep -q "$dev" "$out" && break; sleep 0.1; done
  expect "the new server serves the same device" grep -q "^$dev\$" "$out"
  local orc=0
  wait_pid "$old" 60 || orc=$?
  expect "the old server exited 0 after handing it over" test "$orc" -eq 0
  expect "it logged the hand-over" grep -q "ublkb$id handed over" "$R/ublk.stderr"
  expect "the device stayed" test -b "$dev"
  expect "list shows the new server" sh -c "$LUNKIT_CLI ublk list | grep -qE 'ublkb$id +live +$new '"
  wait_pid "$fio" 300 || fail_scenario "fio failed across the hand-over"
  cat /tmp/fio-handover.txt
  expect "fio verify passed with zero errors" grep -q "err= 0" /tmp/fio-handover.txt
  say "fio's longest write: $(grep -E '^ +clat' /tmp/fio-handover.txt | head -1)"
  if dmesg | grep -i "${dev##*/}" | grep -qi "I/O error"; then
    fail_scenario "the kernel logged I/O errors for ${dev##*/}"
  fi
  expect "no file system error in the kernel log" sh -c "! dmesg | grep -q 'EXT4-fs error'"
  umount /mnt/h
  expect "fsck finds ext4 clean after the hand-over" fsck.ext4 -fn "$dev"
  # A hand-over asked of a server that cannot give one is refused in one line.
  local rc=0
  "$LUNKIT_CLI" ublk recover 42 --handler-dir /tmp/handlers 2>/tmp/e || rc=$?
  expect "recovering a device that does not exist fails" test "$rc" -ne 0
  kill -TERM "$new"; wait_pid "$new" 60 || fail_scenario "the new server did not exit cleanly"
  expect "deleted" nothing_left
}
