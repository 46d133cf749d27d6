#include "daemon/copy_groups.h"

#include <spdlog/spdlog.h>
#include <libconfig.h++>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>

namespace lunkit::daemon {

namespace {

std::string at(const std::string& file, int line) {
  return file + ":" + std::to_string(line) + ": ";
}

}  // namespace

std::optional<Error> parse_copy_groups(const libconfig::Setting& s, const std::string& file,
                                       std::vector<CopyGroup>* out) {
  int line = static_cast<int>(s.getSourceLine());
  const char* shape = "copy_groups = ( { name = \"g1\"; devices = [ \"disk0\", \"disk1\" ]; } );";
  if (!s.isList() && !s.isArray())
    return Error{at(file, line) + "copy_groups must be a list: " + shape};
  out->clear();
  for (int g = 0; g < s.getLength(); ++g) {
    const libconfig::Setting& gs = s[g];
    int gline = static_cast<int>(gs.getSourceLine());
    if (!gs.isGroup()) return Error{at(file, gline) + "each copy group must be a group: " + shape};
    CopyGroup group;
    for (int k = 0; k < gs.getLength(); ++k) {
      const libconfig::Setting& f = gs[k];
      std::string key = f.getName();
      int fline = static_cast<int>(f.getSourceLine());
      if (key == "name") {
        if (f.getType() != libconfig::Setting::TypeString)
          return Error{at(file, fline) + "copy_groups: name must be a string"};
        group.name = static_cast<const char*>(f);
      } else if (key == "devices") {
        if (!f.isArray() && !f.isList())
          return Error{at(file, fline) + "copy_groups: devices must be a list of strings"};
        for (int d = 0; d < f.getLength(); ++d) {
          if (f[d].getType() != libconfig::Setting::TypeString)
            return Error{at(file, fline) + "copy_groups: devices must be a list of strings"};
          std::string dev = static_cast<const char*>(f[d]);
          if (dev.empty() || dev.front() == '/' || dev.back() == '/')
            return Error{at(file, fline) + "copy_groups: '" + dev +
                         "' is not a device name (\"disk0\" or \"user_1/disk0\")"};
          group.devices.push_back(std::move(dev));
        }
      } else {
        return Error{at(file, fline) + "unknown setting 'copy_groups." + key +
                     "' (known: name, devices)"};
      }
    }
    if (group.name.empty()) return Error{at(file, gline) + "copy_groups: a group needs a name"};
    if (group.devices.size() < 2)
      return Error{at(file, gline) + "copy group '" + group.name + "' needs two devices or more"};
    out->push_back(std::move(group));
  }
  return std::nullopt;
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
  tcmu::Device* device = nullptr;  // its loop; null before on_attached and after on_detached
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
    tcmu::Device* loop = target_->device;
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
    tcmu::Device* target = self->target_loop_;
    {
      std::lock_guard lock(self->mu_);
      tcmu::Device* home = self->origin_.device;
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
  tcmu::Device* target_loop_ = nullptr;  // the other LU's loop while a request runs there
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

CopyGroups::CopyGroups(std::vector<CopyGroup> groups) : groups_(std::move(groups)) {
  for (const CopyGroup& g : groups_) {
    std::string list;
    for (const std::string& d : g.devices) list += (list.empty() ? "" : ", ") + d;
    spdlog::info("copy group {}: EXTENDED COPY between {}", g.name, list);
  }
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

Result<std::unique_ptr<BlockDevice>> CopyGroupFactory::open(
    const tcmu::UioDevice& uio, const tcmu::DeviceAttributes& attributes) {
  auto backend = inner_.open(uio, attributes);
  if (!backend) return backend;
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

void CopyGroupFactory::on_attached(BlockDevice& backend, tcmu::Device& device) {
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

}  // namespace lunkit::daemon
