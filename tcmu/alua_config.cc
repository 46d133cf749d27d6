#include "tcmu/alua_config.h"

#include <dirent.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <string_view>
#include <vector>

namespace lunkit::tcmu {
namespace {

constexpr std::string_view kDefaultGroup = "default_tg_pt_gp";

// A decimal number, or hexadecimal with a 0x prefix (tpgt_N/rtpi shows "%#x").
Result<uint64_t> read_number(const std::string& path) {
  auto text = read_text_file(path);
  if (!text) return Error{text.error()};
  uint64_t v = 0;
  std::string_view s = *text;
  int base = 10;
  if (s.starts_with("0x")) {
    s.remove_prefix(2);
    base = 16;
  }
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v, base);
  if (s.empty() || ec != std::errc() || p != s.data() + s.size())
    return Error{path + ": not a number: '" + *text + "'"};
  return v;
}

std::vector<std::string> subdirectories(const std::string& dir) {
  std::vector<std::string> names;
  DIR* d = opendir(dir.c_str());
  if (!d) return names;
  while (dirent* e = readdir(d)) {
    std::string_view n = e->d_name;
    if (n != "." && n != ".." && (e->d_type == DT_DIR || e->d_type == DT_UNKNOWN))
      names.emplace_back(n);
  }
  closedir(d);
  return names;
}

// alua_access_status as the kernel shows it.
uint8_t parse_status(std::string_view s) {
  if (s == "Altered by Explicit STPG") return scsi::kAluaStatusAlteredByStpg;
  if (s == "Altered by Implicit ALUA") return scsi::kAluaStatusAlteredImplicitly;
  return scsi::kAluaStatusNone;
}

struct MemberPort {
  uint16_t relative_port_id = 0;  // 0: the port has none (yet)
  bool can_carry_commands = false;
};

// One `members` line: "<fabric name>/<wwn>/tpgt_<n>/lun_<m>". The fabric's configfs directory
// is its name in lower case ("iSCSI" -> iscsi, "loopback").
Result<MemberPort> read_member(const std::string& target_root, std::string_view line) {
  std::vector<std::string_view> parts;
  for (size_t at = 0; at <= line.size();) {
    size_t slash = line.find('/', at);
    if (slash == std::string_view::npos) slash = line.size();
    parts.push_back(line.substr(at, slash - at));
    at = slash + 1;
  }
  if (parts.size() != 4 || !parts[2].starts_with("tpgt_") || !parts[3].starts_with("lun_"))
    return Error{"ALUA member '" + std::string(line) + "' is not fabric/wwn/tpgt_N/lun_M"};
  std::string fabric(parts[0]);
  std::transform(fabric.begin(), fabric.end(), fabric.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  const std::string tpg =
      target_root + "/" + fabric + "/" + std::string(parts[1]) + "/" + std::string(parts[2]);
  // The relative target port identifier: per TPG since Linux 5.16 (tpgt_N/rtpi, 0 until the
  // TPG is first enabled or the operator sets one), per LUN before (its scsi_port/indx).
  auto rtpi = read_number(tpg + "/rtpi");
  if (!rtpi)
    rtpi = read_number(tpg + "/lun/" + std::string(parts[3]) + "/statistics/scsi_port/indx");
  if (!rtpi) return Error{rtpi.error()};
  if (*rtpi > 0xFFFF)
    return Error{"ALUA member '" + std::string(line) + "': relative port " + std::to_string(*rtpi)};
  MemberPort port;
  port.relative_port_id = static_cast<uint16_t>(*rtpi);
  auto enable = read_text_file(tpg + "/enable");
  port.can_carry_commands = !enable || *enable == "1";  // tcm_loop has no enable attribute
  return port;
}

}  // namespace

Result<bool> read_alua(const Configfs& configfs, const UioName& device,
                       scsi::AluaDescription& out) {
  out = scsi::AluaDescription{};
  const std::string dev_dir = configfs.device_dir(device);
  // alua_support 0 (TRANSPORT_FLAG_PASSTHROUGH_ALUA): the kernel keeps LUNs out of the groups
  // and checks no states, so there is nothing to report.
  if (auto support = read_number(dev_dir + "/attrib/alua_support"); support && *support == 0)
    return true;
  const std::string& core = configfs.paths().configfs_core;
  const std::string target_root = core.substr(0, core.rfind('/'));

  std::vector<std::string> names = subdirectories(dev_dir + "/alua");
  std::sort(names.begin(), names.end());
  bool operator_defined = false;
  bool have_own_port = false;
  auto take_own_port = [&](uint16_t group_id, uint16_t rtpi) {
    if (have_own_port && out.port_group_id <= group_id) return;  // a lower group's came first
    have_own_port = true;
    out.relative_port_id = rtpi;
    out.port_group_id = group_id;
  };
  for (const std::string& name : names) {
    const std::string dir = dev_dir + "/alua/" + name;
    auto id_text = read_text_file(dir + "/tg_pt_gp_id");
    if (!id_text) return Error{id_text.error()};
    if (id_text->empty()) continue;  // no id given yet: not a usable group
    auto id = read_number(dir + "/tg_pt_gp_id");
    auto state = read_number(dir + "/alua_access_state");
    auto preferred = read_number(dir + "/preferred");
    auto trans = read_number(dir + "/implicit_trans_secs");
    auto status = read_text_file(dir + "/alua_access_status");
    auto members = read_text_file(dir + "/members");
    for (const auto* r : {&id, &state, &preferred, &trans})
      if (!*r) return Error{r->error()};
    if (!status) return Error{status.error()};
    if (!members) return Error{members.error()};
    if (*id > 0xFFFF) return Error{dir + "/tg_pt_gp_id: " + std::to_string(*id)};

    scsi::AluaPortGroup group;
    group.id = static_cast<uint16_t>(*id);
    group.state = static_cast<uint8_t>(*state & 0x0F);
    group.preferred = *preferred != 0;
    group.implicit_transition_secs = static_cast<uint8_t>(std::min<uint64_t>(*trans, 255));
    group.status = parse_status(*status);
    struct Bit {
      const char* attr;
      uint8_t bit;
    };
    static constexpr Bit kSupport[] = {
        {"alua_support_transitioning", scsi::kAluaSupTransitioning},
        {"alua_support_offline", scsi::kAluaSupOffline},
        {"alua_support_lba_dependent", scsi::kAluaSupLbaDependent},
        {"alua_support_unavailable", scsi::kAluaSupUnavailable},
        {"alua_support_standby", scsi::kAluaSupStandby},
        {"alua_support_active_nonoptimized", scsi::kAluaSupActiveNonOptimized},
        {"alua_support_active_optimized", scsi::kAluaSupActiveOptimized},
    };
    for (const Bit& b : kSupport) {
      auto v = read_number(dir + "/" + b.attr);
      if (!v) return Error{v.error()};
      if (*v) group.supported |= b.bit;
    }
    // One "...\n\0" per member: the kernel copies each line with its terminating NUL.
    std::string_view rest = *members;
    while (!rest.empty()) {
      size_t end = rest.find_first_of(std::string_view("\n\0", 2));
      std::string_view line = rest.substr(0, end);
      rest = end == std::string_view::npos ? std::string_view{} : rest.substr(end + 1);
      if (line.empty()) continue;
      auto port = read_member(target_root, line);
      if (!port) return Error{port.error()};
      // A port without an identifier cannot be named in RTPG or VPD 0x83 (0 is reserved).
      if (port->relative_port_id == 0) continue;
      if (group.port_count < scsi::kMaxAluaPortsPerGroup)
        group.ports[group.port_count++] = port->relative_port_id;
      if (port->can_carry_commands) take_own_port(group.id, port->relative_port_id);
    }
    // The kernel's default group is listed only while it still holds ports.
    if (name == kDefaultGroup && group.port_count == 0) continue;
    if (name != kDefaultGroup) operator_defined = true;
    if (out.group_count < scsi::kMaxAluaGroups) out.groups[out.group_count++] = group;
  }
  std::sort(out.groups.begin(), out.groups.begin() + static_cast<long>(out.group_count),
            [](const scsi::AluaPortGroup& a, const scsi::AluaPortGroup& b) { return a.id < b.id; });
  if (!operator_defined || !have_own_port) out = scsi::AluaDescription{};
  return true;
}

}  // namespace lunkit::tcmu
