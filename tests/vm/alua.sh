#!/bin/bash
# ALUA from configfs in the test VM (sourced by scenarios.sh). The kernel's target port groups of a
# user backstore (core/user_N/NAME/alua/GROUP) as an initiator sees them through lunkitd: sg_rtpg on
# each path, and multipath-tools grouping the paths by the states the operator set.
#
# Part 1: one backstore exported through two tcm_loop ports in two groups. Every path reports both
# groups with their states, and a state the operator changes shows on the next RTPG.
# Part 2: the layout TCMU ALUA is deployed in (ceph-iscsi): each "gateway" is a backstore of its
# own on the same storage (the same unit serial, so one LU to the initiator), exported through
# its local, enabled iSCSI TPG and through the other gateway's TPG, disabled here. TCMU does not
# say which port a command came through, so each backstore names its one enabled port in VPD 0x83;
# then multipath sees two path groups: active/optimized and active/non-optimized.
CFS=/sys/kernel/config/target

# alua_group DEVICE_DIR NAME ID STATE: a target port group with the kernel's defaults otherwise.
alua_group() {
  local dir=$1/alua/$2
  mkdir "$dir"
  echo "$3" > "$dir/tg_pt_gp_id"
  echo "$4" > "$dir/alua_access_state"
}
# alua_member FABRIC_TPG_DIR LUN GROUP: moves a fabric LUN into a target port group.
alua_member() { echo "$3" > "$1/lun/$2/alua_tg_pt_gp"; }
# Every SCSI disk whose unit serial (VPD 0x80) is SERIAL, once there are COUNT of them.
disks_with_serial() {  # disks_with_serial SERIAL COUNT
  local serial=$1 count=$2 d found
  for _ in $(seq 1 300); do
    found=()
    for d in /sys/block/sd*; do
      [ -e "$d" ] || continue
      sg_inq -p 0x80 "/dev/${d##*/}" 2>/dev/null | grep -q "$serial" && found+=("/dev/${d##*/}")
    done
    [ ${#found[@]} -ge "$count" ] && { echo "${found[@]}"; return 0; }
    sleep 0.1
  done
  return 1
}
# REPORT TARGET PORT GROUPS decoded from the raw answer: "ID:STATE:PORT,PORT ..." per group.
rtpg_groups() {  # rtpg_groups DISK
  local b off end out="" ports n i
  b=($(sg_rtpg -r "$1" | od -An -tx1 -v))
  end=$((4 + 16#${b[0]}${b[1]}${b[2]}${b[3]}))
  off=4
  while [ $off -lt "$end" ]; do
    n=$((16#${b[off + 7]}))
    ports=""
    for ((i = 0; i < n; i++)); do ports+="${ports:+,}$((16#${b[off + 10 + 4 * i]}${b[off + 11 + 4 * i]}))"; done
    out+="${out:+ }$((16#${b[off + 2]}${b[off + 3]})):$((16#${b[off]} & 0x0F)):$ports"
    off=$((off + 8 + 4 * n))
  done
  echo "$out"
}
# The relative target port and target port group a disk's VPD 0x83 names: "RTPI:GROUP".
own_port() {  # own_port DISK
  sg_vpd -p di "$1" > /tmp/vpd83.txt
  local rtpi tpg
  rtpi=$(sed -n 's/.*Relative target port: 0x\([0-9a-f]*\).*/\1/p' /tmp/vpd83.txt)
  tpg=$(sed -n 's/.*Target port group: 0x\([0-9a-f]*\).*/\1/p' /tmp/vpd83.txt)
  echo "$((16#${rtpi:-0})):$((16#${tpg:-0}))"
}
alua_teardown() {
  timeout 30 multipathd shutdown >/dev/null 2>&1 || true
  for _ in $(seq 1 100); do pgrep -x multipathd >/dev/null || break; sleep 0.1; done
  timeout 30 multipath -F >/dev/null 2>&1 || true
  iscsiadm -m node --logout >/dev/null 2>&1 || true
  iscsiadm -m node -o delete >/dev/null 2>&1 || true
  timeout 30 udevadm control --exit >/dev/null 2>&1 || true
}

s_alua() {
  # scenario_exit runs it before it clears the configuration, however the scenario ends.
  SCENARIO_TEARDOWN=alua_teardown
  start_lunkitd
  modprobe scsi_dh_alua
  modprobe dm_multipath
  # multipath-tools finds paths through udev's database (devices udev has initialized), so this
  # scenario runs udevd; the guest has none otherwise.
  /lib/systemd/systemd-udevd --daemon
  cat > /etc/multipath.conf <<'EOF'
defaults {
	user_friendly_names no
	find_multipaths no
	# WWIDs from sysfs (vpd_pg83), not from the ID_SERIAL of udev rules.
	uid_attribute ""
}
EOF

  # ---- part 1: one backstore, two tcm_loop ports, two groups ----
  local serial=7a1c0e11-aaaa-4b0e-9c36-0000000a1a01 t1=naa.5001405000000a11 t2=naa.5001405000000a12
  truncate -s 64M /var/lib/lunkit/alua0.img
  targetcli /backstores/user:file create name=alua0 size=64M cfgstring=/var/lib/lunkit/alua0.img wwn=$serial
  targetcli /loopback create $t1
  targetcli /loopback create $t2
  # On 6.12 a tcm_loop TPG (it has no enable) gets no relative port identifier unless given one.
  echo 1 > $CFS/loopback/$t1/tpgt_1/rtpi
  echo 2 > $CFS/loopback/$t2/tpgt_1/rtpi
  targetcli /loopback/$t1/luns create /backstores/user:file/alua0
  targetcli /loopback/$t2/luns create /backstores/user:file/alua0
  local dev
  dev=$(echo $CFS/core/user_*/alua0)
  local disks
  disks=($(disks_with_serial $serial 2)) || fail_scenario "two paths to alua0 did not appear"
  sg_inq "${disks[0]}" | tee /tmp/inq-before
  expect "no TPGS before any group exists" grep -q "TPGS=0" /tmp/inq-before
  alua_group "$dev" ao 1 0
  alua_group "$dev" ano 2 1
  alua_member $CFS/loopback/$t1/tpgt_1 lun_0 ao
  alua_member $CFS/loopback/$t2/tpgt_1 lun_0 ano
  for t in $t1 $t2; do
    echo "$t: rtpi $(cat $CFS/loopback/$t/tpgt_1/rtpi 2>&1), scsi_port/indx $(cat $CFS/loopback/$t/tpgt_1/lun/lun_0/statistics/scsi_port/indx 2>&1)"
  done
  od -c "$dev/alua/ao/members"
  # The initiator reads INQUIRY and VPD 0x83 when it finds a disk: find them again.
  local d host
  for d in "${disks[@]}"; do
    host=$(readlink -f "/sys/block/${d##*/}/device" | sed -n 's|.*/\(host[0-9]*\)/.*|\1|p')
    echo 1 > "/sys/block/${d##*/}/device/delete"
    echo "- - -" > "/sys/class/scsi_host/$host/scan"
  done
  disks=($(disks_with_serial $serial 2)) || fail_scenario "the paths did not come back after a rescan"
  sg_inq "${disks[0]}" | tee /tmp/inq
  expect "TPGS 01b: implicit ALUA" grep -q "TPGS=1" /tmp/inq
  for d in "${disks[@]}"; do
    sg_rtpg -d "$d"
    say "$d: RTPG $(rtpg_groups "$d"), VPD 0x83 port $(own_port "$d")"
    [ "$(rtpg_groups "$d")" = "1:0:1 2:1:2" ] || fail_scenario "$d: RTPG $(rtpg_groups "$d"), wanted group 1 A/O port 1, group 2 A/NO port 2"
    # TCMU does not say which port a command came through: every path names the first enabled.
    [ "$(own_port "$d")" = "1:1" ] || fail_scenario "$d: VPD 0x83 names port $(own_port "$d"), wanted 1:1"
  done
  # The operator moves group 2 to standby: the next RTPG says so (the kernel tells lunkitd nothing).
  echo 2 > "$dev/alua/ano/alua_access_state"
  [ "$(rtpg_groups "${disks[1]}")" = "1:0:1 2:2:2" ] || fail_scenario "after the change: $(rtpg_groups "${disks[1]}")"
  echo 1 > "$dev/alua/ano/alua_access_state"
  # What multipath would make of these two paths (both name group 1 in VPD 0x83): logged only.
  udevadm settle -t 60 || true
  timeout 60 multipath -d -v2 || true
  timeout 120 targetcli /loopback delete $t1
  timeout 120 targetcli /loopback delete $t2
  timeout 120 targetcli /backstores/user:file delete alua0

  # ---- part 2: two gateways' backstores on one image, multipath over iSCSI ----
  local serial2=7a1c0e11-aaaa-4b0e-9c36-0000000a1a02 gw iqn n other
  truncate -s 64M /var/lib/lunkit/alua-gw.img
  for gw in gw1 gw2; do
    targetcli /backstores/user:file create name=$gw size=64M cfgstring=/var/lib/lunkit/alua-gw.img wwn=$serial2
    iqn=iqn.2003-01.org.linux-iscsi.lunkit:$gw
    targetcli /iscsi create $iqn
    dev=$(echo $CFS/core/user_*/$gw)
    # The rest straight in configfs, as rtslib would do it: each targetcli costs seconds here.
    mkdir $CFS/iscsi/$iqn/tpgt_2
    for n in 1 2; do  # both TPGs carry the LU
      mkdir $CFS/iscsi/$iqn/tpgt_$n/lun/lun_0
      ln -s "$dev" $CFS/iscsi/$iqn/tpgt_$n/lun/lun_0/$gw
      for a in generate_node_acls=1 cache_dynamic_acls=1 demo_mode_write_protect=0 authentication=0; do
        echo "${a#*=}" > $CFS/iscsi/$iqn/tpgt_$n/attrib/${a%=*}
      done
    done
    alua_group "$dev" gw1 1 0
    alua_group "$dev" gw2 2 1
    alua_member $CFS/iscsi/$iqn/tpgt_1 lun_0 gw1
    alua_member $CFS/iscsi/$iqn/tpgt_2 lun_0 gw2
  done
  # gw2 listens with its tpgt_2 (TPGs of one target cannot share a portal; of two, they can).
  rmdir $CFS/iscsi/iqn.2003-01.org.linux-iscsi.lunkit:gw2/tpgt_1/np/0.0.0.0:3260
  mkdir $CFS/iscsi/iqn.2003-01.org.linux-iscsi.lunkit:gw2/tpgt_2/np/0.0.0.0:3260
  # Relative port 1 is gw1's TPG, 2 is gw2's, on both gateways (an rtpi is set while disabled);
  # each gateway's TPG for the other gateway stays disabled here (it is that gateway's port).
  for gw in gw1 gw2; do
    iqn=iqn.2003-01.org.linux-iscsi.lunkit:$gw
    for n in 1 2; do
      echo 0 > $CFS/iscsi/$iqn/tpgt_$n/enable
      echo $n > $CFS/iscsi/$iqn/tpgt_$n/rtpi
    done
  done
  echo 1 > $CFS/iscsi/iqn.2003-01.org.linux-iscsi.lunkit:gw1/tpgt_1/enable
  echo 1 > $CFS/iscsi/iqn.2003-01.org.linux-iscsi.lunkit:gw2/tpgt_2/enable
  for gw in gw1 gw2; do for n in 1 2; do
    iqn=iqn.2003-01.org.linux-iscsi.lunkit:$gw
    echo "$gw tpgt_$n: enable $(cat $CFS/iscsi/$iqn/tpgt_$n/enable) rtpi $(cat $CFS/iscsi/$iqn/tpgt_$n/rtpi 2>&1) indx $(cat $CFS/iscsi/$iqn/tpgt_$n/lun/lun_0/statistics/scsi_port/indx 2>&1)"
  done; done
  pgrep -x iscsid >/dev/null || iscsid
  iscsiadm -m discovery -t sendtargets -p 127.0.0.1
  iscsiadm -m node --login
  disks=($(disks_with_serial $serial2 2)) || fail_scenario "two iSCSI paths did not appear"
  udevadm settle -t 60 || true
  local ao_disk="" ano_disk=""
  for d in "${disks[@]}"; do
    sg_rtpg -d "$d"
    say "$d: RTPG $(rtpg_groups "$d"), VPD 0x83 port $(own_port "$d")"
    [ "$(rtpg_groups "$d")" = "1:0:1 2:1:2" ] || fail_scenario "$d: RTPG $(rtpg_groups "$d"), wanted group 1 A/O port 1, group 2 A/NO port 2"
    case "$(own_port "$d")" in
      1:1) ao_disk=${d##*/} ;;
      2:2) ano_disk=${d##*/} ;;
      *) fail_scenario "$d: VPD 0x83 names port $(own_port "$d")" ;;
    esac
  done
  [ -n "$ao_disk" ] && [ -n "$ano_disk" ] || fail_scenario "the two paths did not name the two ports"

  multipathd -d -s -v3 >"$R/multipathd.log" 2>&1 &
  # Ready when the map has both path groups with the states' priorities (alua prio: A/O 50, A/NO 10).
  for _ in $(seq 1 120); do
    timeout 20 multipath -ll > /tmp/mpll 2>&1 || true
    grep -q "prio=50" /tmp/mpll && grep -q "prio=10" /tmp/mpll && break
    sleep 0.5
  done
  cat /tmp/mpll
  expect "the hardware handler is ALUA" grep -q "hwhandler='1 alua'" /tmp/mpll
  # The A/O path group (prio 50) holds the gw1 path, the A/NO one (prio 10) the gw2 path.
  awk -v ao="$ao_disk" -v ano="$ano_disk" '
    /prio=50/ { g = "ao" } /prio=10/ { g = "ano" }
    $0 ~ (" " ao " ") { if (g == "ao") ok_ao = 1 }
    $0 ~ (" " ano " ") { if (g == "ano") ok_ano = 1 }
    END { exit !(ok_ao && ok_ano) }' /tmp/mpll || fail_scenario "multipath -ll does not show $ao_disk active/optimized and $ano_disk active/non-optimized"
  timeout 20 multipathd show paths format "%d %t %T %p" || true
  expect "lunkitd reported no ALUA error" bash -c "! grep -q 'ALUA:' '$LUNKITD_LOG'"
  # scenario_exit tears down multipath and the sessions, then the targets and backstores.
}
