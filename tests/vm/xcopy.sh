#!/bin/bash
# EXTENDED COPY through the real kernel (sourced by scenarios.sh): sg_xcopy within one LU, across
# two LUs of a copy group, and refused across LUs that share no group.

# lunkitd with a copy group: xcopy_a and xcopy_b may copy between them, xcopy_c is in none.
start_lunkitd_with_copy_group() {
  install_handlers
  cat > /tmp/lunkit.conf <<CONF
log_level = "debug";
log_target = "file";
log_file = "$LUNKITD_LOG";
copy_groups = ( { name = "pair"; devices = [ "xcopy_a", "xcopy_b" ]; } );
CONF
  "$B"/daemon/lunkitd --foreground --config /tmp/lunkit.conf --handler-dir /tmp/handlers \
    >>"$R/lunkitd.stderr" 2>&1 &
  LUNKITD_PID=$!
  for _ in $(seq 1 300); do
    if gdbus call --system --dest org.freedesktop.DBus --object-path /org/freedesktop/DBus \
         --method org.freedesktop.DBus.NameHasOwner org.kernel.TCMUService1 2>/dev/null | grep -q true; then
      return 0
    fi
    sleep 0.1
  done
  echo "lunkitd did not come up"; tail -20 "$LUNKITD_LOG"; return 1
}

# Blocks [LBA, LBA+COUNT) of a disk, read past the page cache (the copy bypassed it).
read_blocks() {  # read_blocks DISK LBA COUNT OUT
  dd if="$1" of="$4" bs=512 skip="$2" count="$3" iflag=direct status=none
}

# The SCSI generic node of a disk (/dev/sdX -> /dev/sgN), made if no udev made it: sg_xcopy is
# given the sg nodes themselves.
sg_node() {  # sg_node DISK
  local sd n
  sd=$(basename "$(readlink -f "$1")")
  n=$(ls "/sys/block/$sd/device/scsi_generic/")
  [ -n "$n" ] || { echo "no SCSI generic node for $sd" >&2; return 1; }
  [ -c "/dev/$n" ] || mknod "/dev/$n" c $(tr ':' ' ' <"/sys/class/scsi_generic/$n/dev")
  echo "/dev/$n"
}

s_xcopy() {
  # sg_xcopy issues its commands through the SCSI generic node of each disk.
  modprobe sg
  start_lunkitd_with_copy_group
  # Serials differ in their first hex digits: the NAA designators (derived from them) differ.
  make_lun xcopy_a 16M a1a1a1a1-0000-4b0e-9c36-00000000c0a1
  make_lun xcopy_b 16M b2b2b2b2-0000-4b0e-9c36-00000000c0b2
  make_lun xcopy_c 16M c3c3c3c3-0000-4b0e-9c36-00000000c0c3
  a=$(wait_for_disk a1a1a1a1-0000-4b0e-9c36-00000000c0a1) || fail_scenario "no disk a"
  b=$(wait_for_disk b2b2b2b2-0000-4b0e-9c36-00000000c0b2) || fail_scenario "no disk b"
  c=$(wait_for_disk c3c3c3c3-0000-4b0e-9c36-00000000c0c3) || fail_scenario "no disk c"
  say "disks a=$a b=$b c=$c"
  # Adding LUNs gave the others REPORTED LUNS DATA HAS CHANGED: take those unit attentions now,
  # so the commands below see only what they are about.
  for d in "$a" "$b" "$c"; do sg_turs "$d" >/dev/null 2>&1 || true; sg_turs "$d" >/dev/null 2>&1 || true; done
  for d in "$a" "$b" "$c"; do expect "$d is ready" sg_turs "$d"; done

  local sa sb sc
  sa=$(sg_node "$a") && sb=$(sg_node "$b") && sc=$(sg_node "$c") || fail_scenario "no SCSI generic nodes"
  say "sg nodes a=$sa b=$sb c=$sc"
  sg_inq "$a" | tee /tmp/xc_inq
  expect "3PC set in INQUIRY" grep -q "3PC=1" /tmp/xc_inq
  sg_vpd -p tpc "$a" | tee /tmp/xc_tpc
  expect "VPD 0x8F lists EXTENDED COPY(LID1)" grep -qi "Extended copy(LID1)" /tmp/xc_tpc
  sg_copy_results --params "$a" | tee /tmp/xc_params
  expect "operating parameters: 8 CSCD descriptors" grep -qi "target descriptor count: 8" /tmp/xc_params

  # 3 MiB of random data at LBA 0 of a (more than the 1 MiB copy buffer: several pieces).
  dd if=/dev/urandom of=/tmp/xc_src bs=1M count=3 status=none
  dd if=/tmp/xc_src of="$a" bs=1M oflag=direct status=none

  # 1. Within one LU: a[0, 6144) -> a[10000, 16144).
  expect "sg_xcopy within a" sg_xcopy if="$sa" of="$sa" bs=512 skip=0 seek=10000 count=6144 -v
  read_blocks "$a" 10000 6144 /tmp/xc_got
  expect "the copy within a is the source" cmp /tmp/xc_src /tmp/xc_got

  # 2. Across the group, sent to the destination (b reads from a) and to the source (a writes b).
  expect "sg_xcopy a -> b (on b)" sg_xcopy if="$sa" of="$sb" bs=512 skip=0 seek=100 count=6144 -v
  read_blocks "$b" 100 6144 /tmp/xc_got
  expect "b holds a's data" cmp /tmp/xc_src /tmp/xc_got
  expect "sg_xcopy a -> b (on a)" sg_xcopy if="$sa" of="$sb" bs=512 skip=0 seek=20000 count=6144 --on_src -v
  read_blocks "$b" 20000 6144 /tmp/xc_got
  expect "b holds a's data (copy run by a)" cmp /tmp/xc_src /tmp/xc_got
  md5sum /tmp/xc_src /tmp/xc_got

  # 3. Outside the group: refused, whichever LU receives the command, and c is untouched.
  for where in "" --on_src; do
    if sg_xcopy if="$sa" of="$sc" bs=512 skip=0 seek=0 count=2048 $where -v >/tmp/xc_refused 2>&1; then
      cat /tmp/xc_refused; fail_scenario "a copy from a to c was accepted ($where)"
    fi
    cat /tmp/xc_refused
    # sg_xcopy names only the sense key (COPY ABORTED); the unit tests check the ASC/ASCQ
    # (0D/02 COPY TARGET DEVICE NOT REACHABLE) byte for byte.
    expect "COPY ABORTED ($where)" grep -qi "copy aborted" /tmp/xc_refused
  done
  read_blocks "$c" 0 2048 /tmp/xc_got
  expect "c still reads zeros" cmp /tmp/xc_got <(head -c $((2048 * 512)) /dev/zero)
  expect "lunkitd logged the refusal" grep -q "names a LU outside its copy groups" "$LUNKITD_LOG"

  timeout 120 targetcli /loopback delete naa.5001405000000002
  for n in xcopy_a xcopy_b xcopy_c; do timeout 120 targetcli /backstores/user:file delete "$n"; done
  stop_lunkitd
  if grep -E "ERROR: (Address|Leak|Undefined)Sanitizer|runtime error" "$R/lunkitd.stderr"; then
    fail_scenario "sanitizer report in lunkitd's stderr"
  fi
}
