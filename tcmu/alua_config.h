// The ALUA target port groups of a TCMU device, read from configfs
// (<core>/user_<hba>/<device>/alua/<group>/) and from the fabric ports named in each group's
// `members`: <target>/<fabric>/<wwn>/tpgt_<n>/rtpi is the port's relative target port
// identifier (Linux 5.16+; before, the LUN's statistics/scsi_port/indx). A port whose TPG was
// never enabled and got no rtpi from the operator has none (0) and is left out; on 6.12 that
// includes tcm_loop TPGs (no `enable`) until rtpi is written.
//
// The kernel notifies a backend of none of this (configfs writes to alua/ and lun/ never reach
// TCMU's netlink), so it is read on each INQUIRY and REPORT TARGET PORT GROUPS.
//
// TCMU does not say through which port a command arrived. The port reported as the unit's own
// (VPD 0x83, as tcmu-runner does) is the first member port that can carry commands — its TPG
// `enable` reads 1, or the fabric has no such switch — in group-id order. That is exact for the
// layout TCMU ALUA is deployed in (each node exports the LU through one enabled local port; the
// other groups list the ports of other nodes, whose TPGs are disabled here) and names one of the
// ports when several are enabled.
#pragma once

#include <string>

#include "lunkit/result.h"
#include "lunkit/scsi/alua.h"
#include "tcmu/configfs.h"
#include "tcmu/uio.h"

namespace lunkit::tcmu {

// Fills `out`. No ALUA (group_count 0) when attrib/alua_support is 0, when only the kernel's
// default_tg_pt_gp exists, or when no member port can carry commands. An error when a group
// or port cannot be read.
Result<bool> read_alua(const Configfs& configfs, const UioName& device, scsi::AluaDescription& out);

}  // namespace lunkit::tcmu
