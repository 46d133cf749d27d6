#!/bin/bash
# lunkit as a library (issue 13): programs of one's own, built in the guest from the installed
# tree with pkg-config alone, serve LUNs without lunkitd. examples/serve-ram.c (C, the library's
# control thread) serves the subtype "memdisk" from memory; examples/serve-file.cc (C++, its own
# poll() loop) serves "fileb" from a file. The LUNs are made through configfs (targetcli offers
# only subtypes a daemon announces on D-Bus; see examples/README.md) and reached through tcm_loop.
LIB_CFS=/sys/kernel/config/target

# serve_example PROGRAM SUBTYPE HBA NAME CFGSTRING SERIAL WWN [CHECK]: starts PROGRAM for SUBTYPE,
# creates the LUN user_HBA/NAME for it, runs ext4 (then CHECK, if given) and fio verify on its
# disk, takes it down as targetcli would and stops PROGRAM, which must exit 0 with no report.
serve_example() {
  local program=$1 subtype=$2 hba=$3 name=$4 cfgstring=$5 serial=$6 wwn=$7 check=${8:-}
  local out=/tmp/$program.out dev=$LIB_CFS/core/user_$hba/$name
  local aborts_before
  aborts_before=$(dmesg | grep -c "ABORT_TASK: Found" || true)
  "/tmp/examples/$program" "$subtype" >"$out" 2>&1 &
  local pid=$! up=0
  for _ in $(seq 1 300); do
    grep -q "serving user:$subtype" "$out" && { up=1; break; }
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  cat "$out"
  [ $up = 1 ] || fail_scenario "$program did not start"

  mkdir -p "$dev"
  echo -n "dev_config=$subtype/$cfgstring,dev_size=$((64 << 20))" >"$dev/control"
  echo -n "$serial" >"$dev/wwn/vpd_unit_serial"
  # The kernel waits for the program's answer to its netlink ADDED event.
  expect "enable returns ($program answered)" timeout 20 sh -c "echo -n 1 > $dev/enable"
  # As rtslib does it: the nexus (the SCSI host) first, then the LUN, which tcm_loop adds to it.
  mkdir -p "$LIB_CFS/loopback/$wwn/tpgt_1"
  echo -n "$wwn" >"$LIB_CFS/loopback/$wwn/tpgt_1/nexus"
  mkdir "$LIB_CFS/loopback/$wwn/tpgt_1/lun/lun_0"
  ln -s "$dev" "$LIB_CFS/loopback/$wwn/tpgt_1/lun/lun_0/$name"
  local disk
  disk=$(wait_for_disk "$serial") || fail_scenario "no disk appeared for the $subtype LUN"
  say "disk $disk, served by $program (pid $pid)"
  sg_readcap "$disk" | tee /tmp/cap-lib
  expect "64 MiB" grep -q "Last LBA=131071" /tmp/cap-lib
  ext4_round_trip "$disk" "/mnt/$name"
  if [ -n "$check" ]; then "$check"; fi
  fio_verify "$disk" 8M "/tmp/fio-$name.txt"
  cat "/tmp/fio-$name.txt"
  expect "fio verify without errors ($program)" grep -q "err= 0" "/tmp/fio-$name.txt"
  # Every command was answered before the initiator's timeout: a command left on the ring (a
  # lost wakeup) is aborted by the SCSI layer and retried, which fio and ext4 would not notice.
  [ "$(dmesg | grep -c "ABORT_TASK: Found" || true)" = "$aborts_before" ] ||
    fail_scenario "the initiator aborted commands $program left unanswered: $(dmesg | grep ABORT_TASK | tail -2)"

  # Down again, the way targetcli would: LUN, nexus, target, then the device (netlink REMOVED,
  # answered by the program), each step bounded.
  rm "$LIB_CFS/loopback/$wwn/tpgt_1/lun/lun_0/$name"
  rmdir "$LIB_CFS/loopback/$wwn/tpgt_1/lun/lun_0"
  echo -n NULL >"$LIB_CFS/loopback/$wwn/tpgt_1/nexus"
  rmdir "$LIB_CFS/loopback/$wwn/tpgt_1" "$LIB_CFS/loopback/$wwn"
  expect "the device is removed ($program answered)" timeout 20 rmdir "$dev"
  rmdir "$LIB_CFS/core/user_$hba"
  kill -TERM "$pid"
  local rc=0
  wait "$pid" || rc=$?
  cat "$out"
  [ $rc = 0 ] || fail_scenario "$program exited with status $rc on SIGTERM"
  check_sanitizer_reports "$out" "$program"
}

# The ext4 serve-file wrote is in its file: fsck and the file's bytes read from the image itself.
LIB_IMAGE=/var/lib/lunkit/lib-file.img
check_image() {
  expect "the image holds a clean ext4" e2fsck -fn "$LIB_IMAGE"
  debugfs -R "dump /data /tmp/data.image" "$LIB_IMAGE"
  expect "the image holds the file ext4 was given" cmp /tmp/data /tmp/data.image
}

s_library() {
  rm -rf /tmp/examples
  cp -r "$SRC/examples" /tmp/examples
  # The installed libraries are a sanitizer build: the programs need the same runtime.
  expect "pkg-config finds the installed lunkit-tcmu" pkg-config --exists lunkit-tcmu
  expect "the examples build with pkg-config alone" \
    make -C /tmp/examples CC="gcc $(mkvar SANITIZER_FLAGS)" CFLAGS="-g -O1" \
    CXX="g++ $(mkvar SANITIZER_FLAGS)" CXXFLAGS="-g -O1"
  # lunkitd loads target_core_user itself; a program of one's own leaves that to the admin.
  modprobe target_core_user
  modprobe tcm_loop
  serve_example serve-ram memdisk 77 mem0 "" 51a7e0c4-0000-4b0e-9c36-00000000e013 \
    naa.5001405000000077
  rm -f "$LIB_IMAGE"
  truncate -s 64M "$LIB_IMAGE"
  serve_example serve-file fileb 78 file0 "$LIB_IMAGE" 51a7e0c4-0000-4b0e-9c36-00000000e014 \
    naa.5001405000000078 check_image
}
