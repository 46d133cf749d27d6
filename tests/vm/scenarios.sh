#!/bin/bash
# Real-kernel scenarios, run inside the test VM by guest-init.sh. Each writes PASS/FAIL lines to
# /lunkit-results/results and its output to /lunkit-results/<name>.log.

source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/ublk.sh"
source "$(dirname "$0")/rbd.sh"
source "$(dirname "$0")/alua.sh"
source "$(dirname "$0")/xcopy.sh"
source "$(dirname "$0")/owner.sh"
source "$(dirname "$0")/tmr.sh"
source "$(dirname "$0")/library.sh"

# ---- 0. installed as the README says: the stock system bus activates lunkitd ----
# guest-init.sh ran `make install` (default prefix) into the guest's root before starting the
# bus from its stock configuration. Nothing is copied by hand: the bus reads lunkit's policy
# from the installed file, and targetcli's first call starts lunkitd through the installed
# activation file. There is no systemd here, so the bus starts Exec= itself (through its
# setuid launch helper, as root, with a clean environment); SystemdService= is only used by a
# bus that runs with systemd activation.
s_install() {
  local st
  st=$(cat /run/lunkit-install.status 2>/dev/null || echo "not run")
  if [ "$st" != 0 ]; then
    tail -30 "$R/make-install.log"
    fail_scenario "make install into the guest's root failed (status $st)"
  fi
  expect "the policy is where the system bus reads it" test -f "$POLICY_FILE"
  expect "the activation file is installed" test -f "$ACTIVATION_FILE.off"
  expect "the activation file starts the installed lunkitd" \
    grep -q "^Exec=$INSTALLED_LUNKITD " "$ACTIVATION_FILE.off"
  expect "lunkitd is installed" test -x "$INSTALLED_LUNKITD"
  if pgrep -x lunkitd; then fail_scenario "a lunkitd is running before activation"; fi
  # The bus starts lunkitd with an empty environment (no PATH): it must still load the module.
  if lsmod | grep -q '^target_core_user '; then fail_scenario "target_core_user is loaded before activation"; fi
  local bus_log=/lunkit-results/dbus-daemon.log offset rc=0
  offset=$(size_of "$bus_log")
  activation on
  timeout 120 targetcli ls /backstores >/tmp/ls.txt 2>&1 || rc=$?
  activation off
  cat /tmp/ls.txt
  local pid
  pid=$(pgrep -x lunkitd || true)
  tail -c +$((offset + 1)) "$bus_log"
  [ "$rc" = 0 ] || fail_scenario "targetcli ls /backstores failed (status $rc)"
  [ -n "$pid" ] || fail_scenario "no lunkitd runs after targetcli's call (the bus did not activate it)"
  expect "the bus started the installed lunkitd" test "$(readlink "/proc/$pid/exe")" = "$INSTALLED_LUNKITD"
  expect "user:file listed" grep -q "user:file" /tmp/ls.txt
  expect "user:ram listed" grep -q "user:ram" /tmp/ls.txt
  expect "user:null listed" grep -q "user:null" /tmp/ls.txt
  expect "the activated lunkitd loaded target_core_user" sh -c "lsmod | grep -q '^target_core_user '"
  if tail -c +$((offset + 1)) "$bus_log" | grep -q "no TCM-USER family"; then
    fail_scenario "the activated lunkitd found no TCM-USER netlink family"
  fi
  # Not a child of this shell, so no exit status: it must go on SIGTERM, without a sanitizer
  # report in what it wrote (its stderr is the bus's).
  kill -TERM "$pid"
  timeout 30 tail --pid="$pid" -f /dev/null || fail_scenario "the activated lunkitd did not exit on SIGTERM"
  check_sanitizer_reports "$bus_log" "the activated lunkitd" "$offset"
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
  ext4_round_trip "$disk" /mnt/t
  # xfs
  mkfs.xfs -q -f "$disk"
  mount "$disk" /mnt/t
  cp /tmp/data /mnt/t/data
  umount /mnt/t
  mount "$disk" /mnt/t
  expect "xfs read back" cmp /tmp/data /mnt/t/data
  umount /mnt/t
  expect "xfs_repair clean" xfs_repair -n "$disk"
  # fio random write with verify
  fio_verify "$disk" 16M /tmp/fio.txt --iodepth=16
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
}

# ---- 3. iSCSI ----
s_iscsi() {
  start_lunkitd
  local iqn=iqn.2003-01.org.linux-iscsi.lunkit:t0
  truncate -s 128M /var/lib/lunkit/iscsi0.img
  targetcli /backstores/user:file create name=iscsi0 size=128M cfgstring=/var/lib/lunkit/iscsi0.img wwn=1c5e0d52-1111-4a0e-8c36-000000000003
  targetcli /iscsi create "$iqn"
  targetcli "/iscsi/$iqn/tpg1/luns" create /backstores/user:file/iscsi0
  targetcli "/iscsi/$iqn/tpg1" set attribute generate_node_acls=1 cache_dynamic_acls=1 demo_mode_write_protect=0 authentication=0
  targetcli ls "/iscsi/$iqn"
  iscsid
  iscsiadm -m discovery -t sendtargets -p 127.0.0.1
  iscsiadm -m node -T "$iqn" -p 127.0.0.1 --login
  disk=$(wait_for_disk 1c5e0d52-1111-4a0e-8c36-000000000003) || fail_scenario "no iSCSI disk appeared"
  say "iSCSI disk $disk"
  fio_verify "$disk" 16M /tmp/fio-iscsi.txt
  cat /tmp/fio-iscsi.txt
  expect "fio over iSCSI without errors" grep -q "err= 0" /tmp/fio-iscsi.txt
  iscsiadm -m node -T "$iqn" -p 127.0.0.1 --logout
  iscsiadm -m node -T "$iqn" -p 127.0.0.1 -o delete
  timeout 120 targetcli /iscsi delete "$iqn"
  timeout 120 targetcli /backstores/user:file delete iscsi0
  expect "released after the iSCSI target went" grep -q "/iscsi0: released" "$LUNKITD_LOG"
}

# ---- 4. restart while fio runs ----
# The new lunkitd reattaches what configfs holds after it owns its bus name, so not at once.
wait_for_reattach() { wait_for_log_since_start "user_.*/$1: serving" "reattached $1"; }
s_restart() {
  start_lunkitd
  make_lun restart0 128M 2d6f1e63-2222-4b0e-9c36-000000000004
  disk=$(wait_for_disk 2d6f1e63-2222-4b0e-9c36-000000000004) || fail_scenario "no disk"
  dmesg -C
  fio_verify "$disk" 64M /tmp/fio-restart.txt &
  local fio=$!
  wait_for_writes "$disk" 4000
  say "SIGTERM lunkitd"
  stop_lunkitd TERM
  start_lunkitd
  # Only what the new process wrote: the old one's "serving" line is in the same log.
  wait_for_reattach restart0
  wait_for_writes "$disk" 4000
  say "SIGKILL lunkitd"
  stop_lunkitd KILL
  start_lunkitd
  wait_for_reattach restart0
  wait "$fio" || fail_scenario "fio failed across the restarts"
  cat /tmp/fio-restart.txt
  expect "fio verify passed with zero errors" grep -q "err= 0" /tmp/fio-restart.txt
  dmesg | grep -i "${disk##*/}" | tail -20 || true
  if dmesg | grep -i "${disk##*/}" | grep -qiE "I/O error|critical medium error|print_req_error"; then
    fail_scenario "the kernel logged I/O errors for ${disk##*/}"
  fi
}

# ---- 5. resize ----
s_resize() {
  start_lunkitd
  make_lun grow0 64M 3e7a2f74-3333-4c0e-9c36-000000000005
  disk=$(wait_for_disk 3e7a2f74-3333-4c0e-9c36-000000000005) || fail_scenario "no disk"
  expect "64 MiB at first" test "$(cat /sys/block/${disk##*/}/size)" = 131072
  dir=$(dirname /sys/kernel/config/target/core/user_*/grow0/attrib)
  truncate -s 128M /var/lib/lunkit/grow0.img
  echo $((128 << 20)) > "$dir/attrib/dev_size"
  sg_turs -v "$disk" > /tmp/turs.txt 2>&1 || true
  cat /tmp/turs.txt
  expect "the initiator saw CAPACITY DATA HAS CHANGED" grep -qi "capacity data has changed" /tmp/turs.txt
  echo 1 > "/sys/block/${disk##*/}/device/rescan"
  expect "the new size after a rescan" test "$(cat /sys/block/${disk##*/}/size)" = 262144
  dd if=/dev/urandom of=/tmp/tail bs=1M count=1 status=none
  dd if=/tmp/tail of="$disk" bs=1M seek=120 oflag=direct status=none
  expect "the grown part is usable" cmp /tmp/tail <(dd if="$disk" bs=1M skip=120 count=1 iflag=direct status=none)
}

# ---- 6. remove, idle and under I/O ----
s_remove() {
  start_lunkitd
  local wwn=naa.5001405000000006
  make_lun keep0 64M 4f8b3085-4444-4d0e-9c36-000000000006 $wwn
  make_lun gone0 64M 4f8b3085-4444-4d0e-9c36-000000000016 $wwn
  keep=$(wait_for_disk 4f8b3085-4444-4d0e-9c36-000000000006) || fail_scenario "no disk keep0"
  gone=$(wait_for_disk 4f8b3085-4444-4d0e-9c36-000000000016) || fail_scenario "no disk gone0"
  # Idle.
  targetcli "/loopback/$wwn/luns" delete lun1
  targetcli /backstores/user:file delete gone0
  expect "lunkitd released it" grep -q "/gone0: released" "$LUNKITD_LOG"
  # Under I/O: a LUN deleted while fio writes to it.
  make_lun busy0 64M 4f8b3085-4444-4d0e-9c36-000000000026 $wwn
  busy=$(wait_for_disk 4f8b3085-4444-4d0e-9c36-000000000026) || fail_scenario "no disk busy0"
  fio --name=busy --filename="$busy" --rw=randwrite --bs=4k --size=48M --ioengine=libaio --iodepth=16 \
      --direct=1 --time_based --runtime=60 --output=/tmp/fio-busy.txt &
  local fio=$!
  wait_for_writes "$busy" 2000
  # The LUN whose storage object is busy0 (rtslib names the link by a hash).
  lun=
  for l in /sys/kernel/config/target/loopback/$wwn/tpgt_1/lun/lun_*; do
    for link in "$l"/*; do
      if [ -L "$link" ] && [ "$(basename "$(readlink -f "$link")")" = busy0 ]; then lun=${l##*/lun_}; fi
    done
  done
  [ -n "$lun" ] || fail_scenario "cannot find the LUN of busy0"
  timeout 60 targetcli "/loopback/$wwn/luns" delete "lun$lun"
  timeout 60 targetcli /backstores/user:file delete busy0
  wait "$fio" || true
  expect "the busy device was released" grep -q "/busy0: released" "$LUNKITD_LOG"
  expect "lunkitd is still running" kill -0 "$LUNKITD_PID"
  fio_verify "$keep" 16M /tmp/fio-keep.txt
  expect "the other LUN keeps serving" grep -q "err= 0" /tmp/fio-keep.txt
}

# ---- 7. save and restore ----
s_saverestore() {
  start_lunkitd
  make_lun saved0 64M 5a9c4196-5555-4e0e-9c36-000000000007 naa.5001405000000007
  disk=$(wait_for_disk 5a9c4196-5555-4e0e-9c36-000000000007) || fail_scenario "no disk"
  dd if=/dev/urandom of=/tmp/pattern bs=1M count=4 status=none
  dd if=/tmp/pattern of="$disk" bs=1M seek=8 oflag=direct status=none
  targetcli saveconfig
  targetctl clear
  expect "cleared: lunkitd released the device" grep -q "/saved0: released" "$LUNKITD_LOG"
  test ! -b "$disk" || fail_scenario "the disk survived targetctl clear"
  targetctl restore
  disk=$(wait_for_disk 5a9c4196-5555-4e0e-9c36-000000000007) || fail_scenario "no disk after restore"
  expect "data intact after restore" cmp /tmp/pattern <(dd if="$disk" bs=1M skip=8 count=4 iflag=direct status=none)
}

# ---- 8. no hang without the daemon ----
raw_backstore() {  # raw_backstore HBA NAME FILE: what targetcli does, straight through configfs
  local d=/sys/kernel/config/target/core/user_$1/$2
  mkdir -p "$d"
  echo -n "dev_size=67108864" > "$d/control"
  echo -n "dev_config=file/$3" > "$d/control"
  timeout 20 sh -c "echo -n 1 > $d/enable"
}
s_nohang() {
  truncate -s 64M /var/lib/lunkit/nohang1.img /var/lib/lunkit/nohang2.img
  start_lunkitd
  stop_lunkitd TERM
  local t0=$SECONDS
  raw_backstore 901 nohang1 /var/lib/lunkit/nohang1.img || fail_scenario "enable after SIGTERM did not return"
  expect "enable returned within seconds after SIGTERM" test $((SECONDS - t0)) -lt 15
  timeout 30 targetcli /backstores/user:file create name=nohang3 size=64M cfgstring=/var/lib/lunkit/nohang1.img > /tmp/t.txt 2>&1 || true
  cat /tmp/t.txt
  # SIGKILL leaves the kernel waiting for replies: --release-netlink (the unit's ExecStopPost).
  start_lunkitd
  stop_lunkitd KILL
  "$B"/daemon/lunkitd --release-netlink
  t0=$SECONDS
  raw_backstore 902 nohang2 /var/lib/lunkit/nohang2.img || fail_scenario "enable after SIGKILL + --release-netlink did not return"
  expect "enable returned within seconds after SIGKILL" test $((SECONDS - t0)) -lt 15
  start_lunkitd
  wait_for_log_since_start "user_901/nohang1: serving" "served what exists"
  wait_for_log_since_start "user_902/nohang2: serving" "served what exists (2)"
}

# ---- transfers of 1..2048 blocks, oversized buffers, no stale data (issue 11, items 1-2) ----
# READ(16)/WRITE(16) straight through /dev/sgN, past the block layer's max_sectors, so the
# kernel delivers commands longer than hw_max_sectors (128) to lunkit.
sg_of() { echo "/dev/$(ls "/sys/block/${1##*/}/device/scsi_generic")"; }
cdb16() {  # cdb16 OPCODE LBA BLOCKS: the CDB as sg_raw's hex bytes
  printf '%02x 00 %02x %02x %02x %02x %02x %02x %02x %02x %02x %02x %02x %02x 00 00' "$1" \
    0 0 0 0 0 0 $(($2 >> 8 & 255)) $(($2 & 255)) \
    $(($3 >> 24 & 255)) $(($3 >> 16 & 255)) $(($3 >> 8 & 255)) $(($3 & 255))
}
check_transfers() {  # check_transfers DISK BLOCK_SIZE WHAT
  local sg bs=$2 n lba=7 bytes
  sg=$(sg_of "$1")
  # sg_raw does not retry: take the unit attentions (power on, LUNs changed) first.
  for _ in 1 2 3 4 5; do sg_turs "$sg" >/dev/null 2>&1 && break; done
  expect "$3: the unit is ready" sg_turs "$sg"
  # SG_IO through these initiators takes at most 1 MiB per command: 2048 blocks of 512 bytes,
  # 256 of 4096 (the unit tests cover 1..2048 blocks at both sizes).
  for n in 1 2 127 128 129 255 256 257 1023 1024 1025 2047 2048; do
    bytes=$((n * bs))
    [ "$bytes" -le 1048576 ] || continue
    head -c "$bytes" /dev/urandom > /tmp/xfer.in
    # One command of n blocks each way (bpt = count); sg_raw stops at 1 MiB, sg_dd does not.
    expect "$3: WRITE(16) of $n blocks" sg_dd if=/tmp/xfer.in of="$sg" bs="$bs" bpt="$n" count="$n" seek=$lba cdbsz=16
    rm -f /tmp/xfer.out
    expect "$3: READ(16) of $n blocks" sg_dd if="$sg" of=/tmp/xfer.out bs="$bs" bpt="$n" count="$n" skip=$lba cdbsz=16
    expect "$3: $n blocks read back as written" cmp /tmp/xfer.in /tmp/xfer.out
  done
  # A buffer larger than the transfer: exactly the transfer comes back (residual reported), and
  # it is the data, not what the data area held before.
  head -c $((2 * bs)) /tmp/xfer.in > /tmp/xfer.two
  rm -f /tmp/xfer.out
  # shellcheck disable=SC2046
  sg_raw -r $((16 * bs)) -o /tmp/xfer.out "$sg" $(cdb16 0x88 $lba 2) 2>&1 | tee /tmp/xfer.log
  expect "$3: oversized READ returns the transfer length only" test "$(stat -c %s /tmp/xfer.out)" -eq $((2 * bs))
  expect "$3: oversized READ data" cmp /tmp/xfer.two /tmp/xfer.out
  # A GOOD command that returns no data, sent with a Data-In buffer: whatever the kernel copies
  # back must be zeros, not bytes left in the data area by the transfers above.
  rm -f /tmp/xfer.out
  sg_raw -r $((64 * bs)) -o /tmp/xfer.out "$sg" 00 00 00 00 00 00 2>&1 | tee /tmp/xfer.log
  expect "$3: TEST UNIT READY with a buffer leaks nothing" test "$(tr -d '\000' < /tmp/xfer.out | wc -c)" -eq 0
}
s_transfers() {
  start_lunkitd
  truncate -s 16M /var/lib/lunkit/xfer512.img /var/lib/lunkit/xfer4k.img
  targetcli /backstores/user:file create name=xfer512 size=16M cfgstring=/var/lib/lunkit/xfer512.img wwn=2e6a1c33-0000-4b0e-9c36-00000000a512
  targetcli /backstores/user:file create name=xfer4k size=16M cfgstring=/var/lib/lunkit/xfer4k.img wwn=2e6a1c33-0000-4b0e-9c36-00000000a4c0 control=hw_block_size=4096
  targetcli /loopback create naa.5001405000000011
  targetcli /loopback/naa.5001405000000011/luns create /backstores/user:file/xfer512
  targetcli /loopback/naa.5001405000000011/luns create /backstores/user:file/xfer4k
  local d512 d4k
  d512=$(wait_for_disk 2e6a1c33-0000-4b0e-9c36-00000000a512) || fail_scenario "no 512-byte disk"
  d4k=$(wait_for_disk 2e6a1c33-0000-4b0e-9c36-00000000a4c0) || fail_scenario "no 4096-byte disk"
  sg_readcap "$d4k" | tee /tmp/cap4k
  expect "4096-byte blocks" grep -q "Logical block length=4096" /tmp/cap4k
  check_transfers "$d512" 512 "tcm_loop 512"
  check_transfers "$d4k" 4096 "tcm_loop 4096"
  # The same over iSCSI on 127.0.0.1.
  local iqn=iqn.2003-01.org.linux-iscsi.lunkit:xfer
  targetcli /iscsi create "$iqn"
  targetcli "/iscsi/$iqn/tpg1/luns" create /backstores/user:file/xfer512
  targetcli "/iscsi/$iqn/tpg1/luns" create /backstores/user:file/xfer4k
  targetcli "/iscsi/$iqn/tpg1" set attribute generate_node_acls=1 cache_dynamic_acls=1 demo_mode_write_protect=0 authentication=0
  targetcli /loopback delete naa.5001405000000011
  pgrep -x iscsid >/dev/null || iscsid
  iscsiadm -m discovery -t sendtargets -p 127.0.0.1
  iscsiadm -m node -T "$iqn" -p 127.0.0.1 --login
  d512=$(wait_for_disk 2e6a1c33-0000-4b0e-9c36-00000000a512) || fail_scenario "no 512-byte iSCSI disk"
  d4k=$(wait_for_disk 2e6a1c33-0000-4b0e-9c36-00000000a4c0) || fail_scenario "no 4096-byte iSCSI disk"
  check_transfers "$d512" 512 "iSCSI 512"
  check_transfers "$d4k" 4096 "iSCSI 4096"
  iscsiadm -m node -T "$iqn" -p 127.0.0.1 --logout
  iscsiadm -m node -T "$iqn" -p 127.0.0.1 -o delete
  timeout 120 targetcli /iscsi delete "$iqn"
  timeout 120 targetcli /backstores/user:file delete xfer512
  timeout 120 targetcli /backstores/user:file delete xfer4k
}

: >"$R/results"
scenario install s_install
scenario targetcli s_targetcli
scenario loopback s_loopback
scenario iscsi s_iscsi
scenario transfers s_transfers
scenario restart s_restart
scenario resize s_resize
scenario remove s_remove
scenario saverestore s_saverestore
scenario nohang s_nohang
scenario ublk-cli s_ublk_cli
scenario ublk s_ublk
scenario ublk-queues s_ublk_queues
scenario ublk-errors s_ublk_errors
scenario ublk-stop s_ublk_stop
scenario ublk-recover s_ublk_recover
scenario ublk-resize s_ublk_resize
scenario ublk-handover s_ublk_handover
scenario rbd s_rbd
SCENARIO_TIMEOUT=900 scenario alua s_alua  # two targetcli setups, iSCSI and multipathd
scenario xcopy s_xcopy
scenario owner s_owner
scenario tmr s_tmr
scenario library s_library
dmesg > "$R/dmesg.log"
