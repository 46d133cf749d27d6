#!/bin/bash
# The rbd handler in the test VM (sourced by scenarios.sh): a single-node Ceph cluster started
# inside the guest, a user:rbd LUN made with targetcli on tcm_loop, and the same handler behind
# ublk.
CEPH_VM=/tmp/ceph-vm

s_rbd() {
  "$SRC/tests/ceph/ceph-cluster.sh" start "$CEPH_VM" memstore
  local conf=$CEPH_VM/ceph.conf
  rbd -c "$conf" create --size 256M rbd/vm0
  rbd -c "$conf" create --size 128M rbd/vm1
  start_lunkitd
  targetcli ls /backstores | tee /tmp/ls.txt
  expect "user:rbd listed" grep -q "user:rbd" /tmp/ls.txt
  if targetcli /backstores/user:rbd create name=bad size=64M cfgstring="rbd/missing;conf=$conf" >/tmp/e 2>&1; then
    fail_scenario "a missing image was accepted"
  fi
  cat /tmp/e
  expect "the handler's reason reaches targetcli" grep -q "image 'rbd/missing' does not exist" /tmp/e
  targetcli /backstores/user:rbd create name=rbd0 size=256M cfgstring="rbd/vm0;conf=$conf" wwn=7c0a5d13-7777-4f0e-9c36-000000000009
  targetcli /loopback create naa.5001405000000009
  targetcli /loopback/naa.5001405000000009/luns create /backstores/user:rbd/rbd0
  disk=$(wait_for_disk 7c0a5d13-7777-4f0e-9c36-000000000009) || fail_scenario "no disk appeared"
  say "rbd disk $disk"
  sg_readcap --16 "$disk" | tee /tmp/cap
  expect "256 MiB" grep -q "Last LBA=524287" /tmp/cap
  expect "thin, unmapped blocks read zeros" grep -qi "lbpme=1, lbprz=1" /tmp/cap
  ext4_round_trip "$disk" /mnt/r
  fio_verify "$disk" 8M /tmp/fio-rbd.txt --iodepth=16
  cat /tmp/fio-rbd.txt
  expect "fio verify on user:rbd without errors" grep -q "err= 0" /tmp/fio-rbd.txt
  targetcli /loopback delete naa.5001405000000009
  targetcli /backstores/user:rbd delete rbd0
  # The same handler as a plain block device.
  modprobe ublk_drv
  start_ublk --handler rbd --cfg "rbd/vm1;conf=$conf"
  local dev=$UBLK_DEV pid=$UBLK_PID
  expect "the image's size" test "$(blockdev --getsize64 "$dev")" = $((128 << 20))
  mkfs.ext4 -q -F "$dev"
  expect "fsck on ublk rbd" fsck.ext4 -fn "$dev"
  fio_verify "$dev" 8M /tmp/fio-ublk-rbd.txt --iodepth=16
  cat /tmp/fio-ublk-rbd.txt
  expect "fio verify on ublk rbd without errors" grep -q "err= 0" /tmp/fio-ublk-rbd.txt
  kill -TERM "$pid"; wait_pid "$pid" 60 || fail_scenario "the ublk rbd server did not exit"
  "$SRC/tests/ceph/ceph-cluster.sh" destroy "$CEPH_VM"
}
