#!/bin/bash
# lunkit as a library (issue 13): a program of its own, built in the guest from the installed
# tree with pkg-config alone, serves a LUN without lunkitd. examples/serve-ram.c serves the
# subtype "memdisk"; the LUN is made through configfs (targetcli offers only subtypes a daemon
# announces on D-Bus; see examples/README.md) and reached through tcm_loop.
LIB_CFS=/sys/kernel/config/target

s_library() {
  rm -rf /tmp/examples
  cp -r "$SRC/examples" /tmp/examples
  # The installed libraries are a sanitizer build: the program needs the same runtime.
  expect "pkg-config finds the installed lunkit-tcmu" pkg-config --exists lunkit-tcmu
  expect "serve-ram builds with pkg-config alone" \
    make -C /tmp/examples CC="gcc $(mkvar SANITIZER_FLAGS)" CFLAGS="-g -O1"
  # lunkitd loads target_core_user itself; a program of one's own leaves that to the admin.
  modprobe target_core_user
  modprobe tcm_loop
  /tmp/examples/serve-ram memdisk >/tmp/serve-ram.out 2>&1 &
  local pid=$! up=0
  for _ in $(seq 1 300); do
    grep -q "serving user:memdisk" /tmp/serve-ram.out && { up=1; break; }
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  cat /tmp/serve-ram.out
  [ $up = 1 ] || fail_scenario "serve-ram did not start"

  local serial=51a7e0c4-0000-4b0e-9c36-00000000e013 dev=$LIB_CFS/core/user_77/mem0
  local wwn=naa.5001405000000077
  mkdir -p "$dev"
  echo -n "dev_config=memdisk/,dev_size=$((64 << 20))" >"$dev/control"
  echo -n "$serial" >"$dev/wwn/vpd_unit_serial"
  # The kernel waits for serve-ram's answer to its netlink ADDED event.
  expect "enable returns (serve-ram answered)" timeout 20 sh -c "echo -n 1 > $dev/enable"
  # As rtslib does it: the nexus (the SCSI host) first, then the LUN, which tcm_loop adds to it.
  mkdir -p "$LIB_CFS/loopback/$wwn/tpgt_1"
  echo -n "$wwn" >"$LIB_CFS/loopback/$wwn/tpgt_1/nexus"
  mkdir "$LIB_CFS/loopback/$wwn/tpgt_1/lun/lun_0"
  ln -s "$dev" "$LIB_CFS/loopback/$wwn/tpgt_1/lun/lun_0/mem0"
  local disk
  disk=$(wait_for_disk "$serial") || fail_scenario "no disk appeared for the memdisk LUN"
  say "disk $disk, served by serve-ram (pid $pid)"
  sg_readcap "$disk" | tee /tmp/cap-lib
  expect "64 MiB" grep -q "Last LBA=131071" /tmp/cap-lib
  ext4_round_trip "$disk" /mnt/lib
  fio_verify "$disk" 8M /tmp/fio-lib.txt
  cat /tmp/fio-lib.txt
  expect "fio verify without errors" grep -q "err= 0" /tmp/fio-lib.txt

  # Down again, the way targetcli would: LUN, nexus, target, then the device (netlink REMOVED,
  # answered by serve-ram), each step bounded.
  rm "$LIB_CFS/loopback/$wwn/tpgt_1/lun/lun_0/mem0"
  rmdir "$LIB_CFS/loopback/$wwn/tpgt_1/lun/lun_0"
  echo -n NULL >"$LIB_CFS/loopback/$wwn/tpgt_1/nexus"
  rmdir "$LIB_CFS/loopback/$wwn/tpgt_1" "$LIB_CFS/loopback/$wwn"
  expect "the device is removed (serve-ram answered)" timeout 20 rmdir "$dev"
  rmdir "$LIB_CFS/core/user_77"
  kill -TERM "$pid"
  local rc=0
  wait "$pid" || rc=$?
  cat /tmp/serve-ram.out
  [ $rc = 0 ] || fail_scenario "serve-ram exited with status $rc on SIGTERM"
  check_sanitizer_reports /tmp/serve-ram.out "serve-ram"
}
