#!/bin/bash
# Real-kernel scenarios, run inside the test VM by guest-init.sh. Each writes PASS/FAIL lines to
# /lunkit-results/results and its output to /lunkit-results/<name>.log.
R=/lunkit-results
B=$LUNKIT_BUILD
SRC=$LUNKIT_SRC
LUNKITD_LOG=$R/lunkitd.log
export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1

# ---- helpers ----
say() { echo "[$(date +%T)] $*"; }
expect() {  # expect "what" command...: ends the scenario (a subshell) when the command fails
  local what=$1
  shift
  if ! "$@"; then
    echo "EXPECTATION FAILED: $what"
    exit 1
  fi
}
fail_scenario() {
  echo "EXPECTATION FAILED: $*"
  exit 1
}
scenario() {  # scenario NAME FUNCTION
  local name=$1 fn=$2
  if [ "${LUNKIT_ONLY:-all}" != all ] && [[ ",$LUNKIT_ONLY," != *",$name,"* ]]; then return; fi
  say "scenario $name"
  # Not inside an `if`: bash ignores set -e in a condition, even in a subshell.
  ( set -eo pipefail; $fn ) >"$R/$name.log" 2>&1
  local rc=$?
  if [ $rc -eq 0 ]; then
    echo "PASS $name" >>"$R/results"
  else
    local why
    why=$(grep -E 'EXPECTATION FAILED' "$R/$name.log" | tail -1)
    echo "FAIL $name: ${why:-exit status $rc; last line: $(tail -1 "$R/$name.log")}" >>"$R/results"
  fi
  cleanup_targets
  say "scenario $name done: $(tail -1 "$R/results")"
}

start_lunkitd() {
  mkdir -p /tmp/handlers
  cp "$B"/handlers/.libs/{file,ram,null}.so /tmp/handlers/
  chmod 755 /tmp/handlers && chmod 644 /tmp/handlers/*.so
  printf 'log_level = "debug";\nlog_target = "file";\nlog_file = "%s";\n' "$LUNKITD_LOG" > /tmp/lunkit.conf
  "$B"/daemon/lunkitd --foreground --config /tmp/lunkit.conf --handler-dir /tmp/handlers \
    >>"$R/lunkitd.stderr" 2>&1 &
  LUNKITD_PID=$!
  # Ready when it owns its bus name.
  for _ in $(seq 1 300); do
    if gdbus call --system --dest org.freedesktop.DBus --object-path /org/freedesktop/DBus \
         --method org.freedesktop.DBus.NameHasOwner org.kernel.TCMUService1 2>/dev/null | grep -q true; then
      return 0
    fi
    sleep 0.1
  done
  echo "lunkitd did not come up"; tail -20 "$LUNKITD_LOG"; return 1
}
# Whatever a scenario left behind (it may have stopped halfway).
cleanup_targets() {
  for m in /mnt/*; do mountpoint -q "$m" && umount -l "$m"; done
  targetcli clearconfig confirm=True >/dev/null 2>&1 || true
  pkill -TERM -f daemon/.libs/lunkitd 2>/dev/null || true
  for _ in $(seq 1 100); do pgrep -f daemon/.libs/lunkitd >/dev/null || break; sleep 0.1; done
  pkill -KILL -f daemon/.libs/lunkitd 2>/dev/null || true
  LUNKITD_PID=
}
stop_lunkitd() {  # stop_lunkitd [SIGNAL]
  local sig=${1:-TERM}
  [ -n "${LUNKITD_PID:-}" ] || return 0
  kill -"$sig" "$LUNKITD_PID" 2>/dev/null || true
  wait "$LUNKITD_PID" 2>/dev/null || true
  LUNKITD_PID=
}
# The block device of a SCSI disk whose unit serial (VPD 0x80) is SERIAL, once it appears.
wait_for_disk() {  # wait_for_disk SERIAL
  local serial=$1 d
  for _ in $(seq 1 300); do
    for d in /sys/block/sd*; do
      [ -e "$d" ] || continue
      if sg_inq -p 0x80 "/dev/${d##*/}" 2>/dev/null | grep -q "$serial"; then
        echo "/dev/${d##*/}"
        return 0
      fi
    done
    sleep 0.1
  done
  return 1
}

# ---- 1. targetcli ----
s_targetcli() {
  start_lunkitd
  targetcli ls /backstores | tee /tmp/ls.txt
  expect "user:file listed" grep -q "user:file" /tmp/ls.txt
  expect "user:ram listed" grep -q "user:ram" /tmp/ls.txt
  expect "user:null listed" grep -q "user:null" /tmp/ls.txt
  if targetcli /backstores/user:file create name=missing size=64M cfgstring=/nonexistent/disk.img >/tmp/create.txt 2>&1; then
    cat /tmp/create.txt; fail_scenario "a missing file was accepted"
  fi
  cat /tmp/create.txt
  expect "the handler's reason reaches targetcli" grep -q "No such file or directory" /tmp/create.txt
  truncate -s 64M /var/lib/lunkit/disk0.img
  targetcli /backstores/user:file create name=disk0 size=64M cfgstring=/var/lib/lunkit/disk0.img
  expect "the device is served" grep -q "serving file//var/lib/lunkit/disk0.img" "$LUNKITD_LOG"
  targetcli /backstores/user:file delete disk0
  stop_lunkitd
}

# ---- 2. loopback disk ----
s_loopback() {
  start_lunkitd
  truncate -s 320M /var/lib/lunkit/loop0.img
  targetcli /backstores/user:file create name=loop0 size=320M cfgstring=/var/lib/lunkit/loop0.img wwn=6b1f0c2a-0c1d-4b0e-9c36-6a0b1d7f0b11
  targetcli /loopback create naa.5001405000000001
  targetcli /loopback/naa.5001405000000001/luns create /backstores/user:file/loop0
  disk=$(wait_for_disk 6b1f0c2a-0c1d-4b0e-9c36-6a0b1d7f0b11) || fail_scenario "no disk appeared"
  expect "a disk appeared" test -b "$disk"
  say "disk $disk"
  sg_inq "$disk" | tee /tmp/inq
  expect "vendor" grep -q "Vendor identification: LIO-ORG" /tmp/inq
  expect "product" grep -q "Product identification: TCMU device" /tmp/inq
  sg_inq -p 0x80 "$disk" | tee /tmp/sn
  expect "unit serial from configfs" grep -q "6b1f0c2a-0c1d-4b0e-9c36-6a0b1d7f0b11" /tmp/sn
  sg_vpd -p di "$disk" | tee /tmp/di
  expect "NAA designator" grep -qi "0x60014056b1f0c2a0" /tmp/di
  sg_readcap --16 "$disk" | tee /tmp/cap
  expect "capacity" grep -q "Last LBA=655359" /tmp/cap
  expect "thin provisioned, unmapped blocks read zeros" grep -qi "lbpme=1, lbprz=1" /tmp/cap
  sg_vpd -p bl "$disk" | tee /tmp/bl
  expect "block limits" grep -qi "Maximum unmap LBA count" /tmp/bl
  sg_vpd -p lbpv "$disk" | tee /tmp/lbpv
  expect "LBPU" grep -qi "Unmap command supported (LBPU): 1" /tmp/lbpv
  sg_vpd -p bdc "$disk" | tee /tmp/bdc
  expect "non-rotating" grep -qi "Non-rotating medium" /tmp/bdc
  sg_modes -a "$disk" | tee /tmp/modes
  expect "caching page" grep -qi "Caching" /tmp/modes
  sg_opcodes "$disk" | tee /tmp/ops
  expect "RSOC lists READ(10)" grep -qi "Read(10)" /tmp/ops
  expect "RSOC lists COMPARE AND WRITE" grep -qi "Compare and write" /tmp/ops
  # ext4
  mkfs.ext4 -q -F "$disk"
  mkdir -p /mnt/t && mount "$disk" /mnt/t
  dd if=/dev/urandom of=/tmp/data bs=1M count=8 status=none
  cp /tmp/data /mnt/t/data && sync
  umount /mnt/t && mount "$disk" /mnt/t
  expect "file read back" cmp /tmp/data /mnt/t/data
  umount /mnt/t
  expect "fsck clean" fsck.ext4 -fn "$disk"
  # xfs
  mkfs.xfs -q -f "$disk"
  mount "$disk" /mnt/t && cp /tmp/data /mnt/t/data && umount /mnt/t
  mount "$disk" /mnt/t && expect "xfs read back" cmp /tmp/data /mnt/t/data && umount /mnt/t
  expect "xfs_repair clean" xfs_repair -n "$disk"
  # fio random write with verify
  fio --name=verify --filename="$disk" --rw=randwrite --bs=4k --size=32M --ioengine=libaio \
      --iodepth=16 --direct=1 --verify=crc32c --do_verify=1 --verify_fatal=1 --output=/tmp/fio.txt
  cat /tmp/fio.txt
  expect "fio without errors" grep -q "err= 0" /tmp/fio.txt
  # discard then zeros
  dd if=/dev/urandom of="$disk" bs=1M count=4 seek=64 oflag=direct status=none
  blkdiscard -o $((64 << 20)) -l $((4 << 20)) "$disk"
  expect "discarded range reads zeros" cmp -n $((4 << 20)) /dev/zero <(dd if="$disk" bs=1M skip=64 count=4 iflag=direct status=none)
  # COMPARE AND WRITE
  dd if="$disk" of=/tmp/block0 bs=512 count=1 iflag=direct status=none
  head -c 512 /dev/urandom > /tmp/newblock
  cat /tmp/block0 /tmp/newblock > /tmp/caw
  expect "compare and write succeeds" sg_compare_and_write --in=/tmp/caw --lba=0 --num=1 "$disk"
  if sg_compare_and_write --in=/tmp/caw --lba=0 --num=1 "$disk" >/tmp/caw2.txt 2>&1; then
    fail_scenario "a stale compare succeeded"
  fi
  cat /tmp/caw2.txt
  expect "miscompare reported" grep -qi "miscompare" /tmp/caw2.txt
  targetcli /loopback delete naa.5001405000000001
  targetcli /backstores/user:file delete loop0
  stop_lunkitd
}

: >"$R/results"
scenario targetcli s_targetcli
scenario loopback s_loopback
dmesg > "$R/dmesg.log"
