// Copy groups: which other LUs an EXTENDED COPY received by a LU may read or write.
//
// TCMU does not tell a backend which initiator sent a command, so a copy could otherwise name
// (by its NAA designator) and read or overwrite any LU the process serves, including one the
// initiator was never given. Only LUs put in one group (lunkit_tcmu_add_copy_group(); lunkitd's
// `copy_groups` in lunkit.conf) reach each other. A device is named as targetcli names the
// backstore ("disk0", the configfs device name) or, when names repeat across HBAs, as
// "user_<hba>/<name>" (what the library logs).
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "lunkit/result.h"
#include "tcmu/manager.h"

namespace lunkit::tcmu {

struct CopyGroup {
  std::string name;
  std::vector<std::string> devices;
};

// Why `group` cannot be a copy group ("" when it can): a name, two devices or more, each a
// device name ("disk0" or "user_1/disk0").
std::string copy_group_error(const CopyGroup& group);

// True when `entry` ("disk0" or "user_1/disk0") names the device `label` ("user_1/disk0").
bool names_device(const std::string& entry, const std::string& label);

// The LUs a process serves, as far as copies between them go: which are attached, on which loop,
// and the resolver each LU's EXTENDED COPY uses. Shared by the factories of every handler, so a
// group may mix handlers. Groups are added before any device is opened.
class CopyGroups {
 public:
  explicit CopyGroups(std::vector<CopyGroup> groups = {});
  ~CopyGroups();
  CopyGroups(const CopyGroups&) = delete;
  CopyGroups& operator=(const CopyGroups&) = delete;

  // Adds a group that copy_group_error() accepts (checked by the caller).
  void add(CopyGroup group);
  const std::vector<CopyGroup>& groups() const { return groups_; }
  // True when some group holds both devices (labels "user_<hba>/<name>").
  bool share_a_group(const std::string& a, const std::string& b) const;

  struct Member;  // one LU (copy_groups.cc)
  // The resolver of `self`: the attached LU of one of its groups that has `designator`.
  BlockDevice* reach(Member& self, std::span<const uint8_t> designator);

 private:
  friend class CopyGroupFactory;
  std::vector<CopyGroup> groups_;
  // members_, each member's loop and relays. Recursive: a relay posts to a loop while holding
  // it, and a loop that no longer runs executes the task (and its completion) right there.
  std::recursive_mutex mu_;
  std::map<const BlockDevice*, std::shared_ptr<Member>> members_;
};

// A BackendFactory around another one that gives each LU it opens the resolver of `groups`
// (none while there are no groups: the LU then copies only within itself). Requests to another
// LU run on that LU's own loop; their completions come back on the loop of the LU that runs the
// copy.
class CopyGroupFactory : public BackendFactory {
 public:
  CopyGroupFactory(BackendFactory& inner, CopyGroups& groups) : inner_(inner), groups_(groups) {}

  Result<std::unique_ptr<BlockDevice>> open(const UioDevice& uio,
                                            const DeviceAttributes& attributes) override;
  void prepare_options(BlockDevice& backend, scsi::LogicalUnitOptions& options) override;
  int reconfigure(BlockDevice& backend, uint64_t new_size, const char* new_cfgstring,
                  int write_cache) override {
    return inner_.reconfigure(backend, new_size, new_cfgstring, write_cache);
  }
  void on_attached(BlockDevice& backend, Device& device) override;
  void on_detached(BlockDevice& backend) override;

 private:
  BackendFactory& inner_;
  CopyGroups& groups_;
};

}  // namespace lunkit::tcmu
