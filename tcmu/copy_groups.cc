#include "tcmu/copy_groups.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>

namespace lunkit::tcmu {

std::string copy_group_error(const CopyGroup& group) {
  if (group.name.empty()) return "a copy group needs a name";
  if (group.devices.size() < 2) return "copy group '" + group.name + "' needs two devices or more";
  for (const std::string& dev : group.devices)
    if (dev.empty() || dev.front() == '/' || dev.back() == '/')
      return "copy group '" + group.name + "': '" + dev +
             "' is not a device name (\"disk0\" or \"user_1/disk0\")";
  return "";
}

bool names_device(const std::string& entry, const std::string& label) {
  if (entry.find('/') != std::string::npos) return entry == label;
  size_t slash = label.find('/');
  return slash != std::string::npos && label.compare(slash + 1, std::string::npos, entry) == 0;
}

// ---- members and the relay to another LU's loop ----

namespace {
class PeerDevice;
}

struct CopyGroups::Member {
  CopyGroups* owner = nullptr;
  std::string label;  // "user_<hba>/<name>"
  BlockDevice* backend = nullptr;
  Device* device = nullptr;  // its loop; null before on_attached and after on_detached
  // Relays for copies this LU runs into other LUs, made on first use (owner->mu_ held).
  std::map<const Member*, std::unique_ptr<PeerDevice>> peers;
};

namespace {

// Another LU as the copying LU's libscsi sees it. One request at a time (a LU runs one copy at
// a time): it runs on the other LU's loop, and its completion on the copying LU's loop.
class PeerDevice : public BlockDevice {
 public:
  PeerDevice(std::recursive_mutex& mu, CopyGroups::Member& origin,
             std::shared_ptr<CopyGroups::Member> target)
      : mu_(mu), origin_(origin), target_(std::move(target)) {}

  // With the registry lock held, when a copy resolves this LU: what it looks like now.
  void refresh() {
    info_ = target_->backend->info();
    info_.num_blocks = target_->device->logical_unit().capacity();
  }

  const DeviceInfo& info() const override { return info_; }
  void read(BlockRequest& r) override { relay(r, Op::kRead); }
  void write(BlockRequest& r) override { relay(r, Op::kWrite); }
  void flush(BlockRequest& r) override { relay(r, Op::kFlush); }
  void unmap(BlockRequest& r) override { r.complete(-EOPNOTSUPP); }
  void write_zeroes(BlockRequest& r) override { r.complete(-EOPNOTSUPP); }

 private:
  enum class Op : uint8_t { kRead, kWrite, kFlush };

  void relay(BlockRequest& r, Op op) {
    std::lock_guard lock(mu_);
    Device* loop = target_->device;
    // Detached since the copy began, or stopping: its backend is about to go.
    if (!loop || !loop->begin_foreign_work()) return r.complete(-ENODEV);
    target_loop_ = loop;  // its stop() now waits for this request (end_foreign_work in done())
    request_ = &r;
    op_ = op;
    saved_fn_ = r.on_complete;
    saved_context_ = r.context;
    r.on_complete = &PeerDevice::done;
    r.context = this;
    loop->post([this] { run(); });
  }

  // On the other LU's loop.
  void run() {
    BlockDevice& dev = *target_->backend;
    switch (op_) {
      case Op::kRead:
        return dev.read(*request_);
      case Op::kWrite:
        return dev.write(*request_);
      case Op::kFlush:
        return dev.flush(*request_);
    }
  }

  static void done(BlockRequest& r, int result) {
    auto* self = static_cast<PeerDevice*>(r.context);
    r.on_complete = self->saved_fn_;
    r.context = self->saved_context_;
    self->result_ = result;
    Device* target = self->target_loop_;
    {
      std::lock_guard lock(self->mu_);
      Device* home = self->origin_.device;
      if (!home)
        r.complete(result);
      else
        home->post([self] { self->request_->complete(self->result_); });
    }
    target->end_foreign_work();  // the last use of the other LU: it may stop now
  }

  std::recursive_mutex& mu_;
  CopyGroups::Member& origin_;
  std::shared_ptr<CopyGroups::Member> target_;
  DeviceInfo info_;
  BlockRequest* request_ = nullptr;
  Device* target_loop_ = nullptr;  // the other LU's loop while a request runs there
  Op op_ = Op::kRead;
  BlockCompletionFn saved_fn_ = nullptr;
  void* saved_context_ = nullptr;
  int result_ = 0;
};

BlockDevice* resolve(void* context, std::span<const uint8_t> designator) {
  auto& self = *static_cast<CopyGroups::Member*>(context);
  CopyGroups& groups = *self.owner;
  return groups.reach(self, designator);
}

}  // namespace

CopyGroups::CopyGroups(std::vector<CopyGroup> groups) {
  for (CopyGroup& g : groups) add(std::move(g));
}

void CopyGroups::add(CopyGroup group) {
  std::string list;
  for (const std::string& d : group.devices) list += (list.empty() ? "" : ", ") + d;
  spdlog::info("copy group {}: EXTENDED COPY between {}", group.name, list);
  std::lock_guard lock(mu_);
  groups_.push_back(std::move(group));
}
CopyGroups::~CopyGroups() = default;

bool CopyGroups::share_a_group(const std::string& a, const std::string& b) const {
  for (const CopyGroup& g : groups_) {
    auto has = [&](const std::string& label) {
      return std::any_of(g.devices.begin(), g.devices.end(),
                         [&](const std::string& e) { return names_device(e, label); });
    };
    if (has(a) && has(b)) return true;
  }
  return false;
}

BlockDevice* CopyGroups::reach(Member& self, std::span<const uint8_t> designator) {
  std::lock_guard lock(mu_);
  for (auto& [backend, m] : members_) {
    if (m.get() == &self || !m->device || !share_a_group(self.label, m->label)) continue;
    std::array<uint8_t, scsi::kMaxDesignatorLength> naa{};
    size_t len = m->device->logical_unit().naa_designator(naa);
    if (len != designator.size() || std::memcmp(naa.data(), designator.data(), len) != 0) continue;
    auto& peer = self.peers[m.get()];
    if (!peer) peer = std::make_unique<PeerDevice>(mu_, self, m);
    peer->refresh();
    spdlog::debug("{}: EXTENDED COPY reaches {} (copy group)", self.label, m->label);
    return peer.get();
  }
  spdlog::info("{}: EXTENDED COPY names a LU outside its copy groups: not reachable", self.label);
  return nullptr;
}

// ---- the factory ----

Result<std::unique_ptr<BlockDevice>> CopyGroupFactory::open(const UioDevice& uio,
                                                            const DeviceAttributes& attributes) {
  auto backend = inner_.open(uio, attributes);
  if (!backend || groups_.groups().empty()) return backend;
  auto member = std::make_shared<CopyGroups::Member>();
  member->owner = &groups_;
  member->label = "user_" + std::to_string(uio.name.hba) + "/" + uio.name.device;
  member->backend = backend->get();
  std::lock_guard lock(groups_.mu_);
  groups_.members_[member->backend] = std::move(member);
  return backend;
}

void CopyGroupFactory::prepare_options(BlockDevice& backend, scsi::LogicalUnitOptions& options) {
  inner_.prepare_options(backend, options);
  std::lock_guard lock(groups_.mu_);
  auto it = groups_.members_.find(&backend);
  if (it == groups_.members_.end()) return;
  options.copy_targets = {&resolve, it->second.get()};
}

void CopyGroupFactory::on_attached(BlockDevice& backend, Device& device) {
  inner_.on_attached(backend, device);
  std::lock_guard lock(groups_.mu_);
  auto it = groups_.members_.find(&backend);
  if (it != groups_.members_.end()) it->second->device = &device;
}

void CopyGroupFactory::on_detached(BlockDevice& backend) {
  {
    std::lock_guard lock(groups_.mu_);
    auto it = groups_.members_.find(&backend);
    if (it != groups_.members_.end()) {
      it->second->device = nullptr;
      it->second->peers.clear();   // no copy runs on a stopped LU; breaks reference cycles
      groups_.members_.erase(it);  // relays of other LUs keep the Member itself alive
    }
  }
  inner_.on_detached(backend);
}

}  // namespace lunkit::tcmu
