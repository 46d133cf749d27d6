// user:rbd — a LUN backed by a Ceph RBD image, through librbd's asynchronous C API.
//
// cfgstring (tcmu-runner's): <pool>/<image>[;osd_op_timeout=N][;conf=<path>][;id=<user>]
//            and lunkit's [;cache=1]: librbd's write-back cache, off by default (as tcmu-runner
//            has it): a gateway that can crash or be fenced should not hold acknowledged writes.
//            With it on, the LUN reports a volatile write cache and SYNCHRONIZE CACHE flushes it.
//
// I/O: rbd_aio_readv/writev, flush, discard, write_zeroes and compare_and_write, submitted from
// the device's event loop(s) and completed from librbd's own threads with lunkit_io_complete().
// Nothing blocks on the loop and there is no thread per command. The images of the process
// share one cluster connection per set of connection options (cluster.h). One maintenance
// thread per device, asleep unless the image changed size behind lunkit (librbd's header watch)
// or the cluster blocklisted its client (which fences every image on that connection), when it
// reopens the image on a new client instance while commands are answered BUSY.
//
// Outages: every OSD and monitor operation times out after osd_op_timeout seconds (default 31,
// inside the kernel's 30-second TCMU command timeout); a timed-out command completes with
// -ETIMEDOUT, which the initiator sees as BUSY and retries. When the cluster answers again,
// commands succeed again: nothing is reopened and no LUN is recreated.
#include <lunkit/handler.h>
#include <rados/librados.h>
#include <rbd/librbd.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "handlers/rbd/cluster.h"

namespace {

constexpr int kDefaultOpTimeout = 31;  // osd_heartbeat_grace + osd_heartbeat_interval + 5
constexpr int kCheckTimeout = 10;      // check_config must answer targetcli quickly
constexpr uint64_t kNoOffset = ~0ull;

struct RbdOptions {
  std::string pool, image, conf, id;
  int op_timeout = kDefaultOpTimeout;
  bool cache = false;
  std::string spec() const { return pool + "/" + image; }
};

bool parse_options(std::string_view cfg, RbdOptions* o, std::string* why) {
  size_t semi = cfg.find(';');
  std::string_view spec = cfg.substr(0, semi);
  size_t slash = spec.find('/');
  if (slash == std::string_view::npos || slash == 0 || slash + 1 == spec.size() ||
      spec.find('/', slash + 1) != std::string_view::npos) {
    *why = "rbd needs <pool>/<image>[;osd_op_timeout=N][;conf=<path>][;id=<user>] (got '" +
           std::string(cfg) + "')";
    return false;
  }
  o->pool = std::string(spec.substr(0, slash));
  o->image = std::string(spec.substr(slash + 1));
  std::vector<std::string> seen;
  while (semi != std::string_view::npos) {
    cfg.remove_prefix(semi + 1);
    semi = cfg.find(';');
    std::string_view opt = cfg.substr(0, semi);
    if (opt.empty()) continue;
    size_t eq = opt.find('=');
    std::string key(opt.substr(0, eq));
    // The device's own option comes first; lunkit.conf's defaults are appended after it.
    if (std::find(seen.begin(), seen.end(), key) != seen.end()) continue;
    seen.push_back(key);
    std::string value(eq == std::string_view::npos ? "" : opt.substr(eq + 1));
    if (key == "osd_op_timeout") {
      char* end = nullptr;
      long v = std::strtol(value.c_str(), &end, 10);
      if (value.empty() || *end || v < 1 || v > 3600) {
        *why = "osd_op_timeout takes seconds, 1 to 3600 (got '" + value + "')";
        return false;
      }
      o->op_timeout = static_cast<int>(v);
    } else if (key == "conf") {
      if (value.empty() || value[0] != '/') {
        *why = "conf takes the absolute path of a ceph.conf (got '" + value + "')";
        return false;
      }
      o->conf = value;
    } else if (key == "id") {
      if (value.empty()) {
        *why = "id takes a Ceph user name, e.g. id=admin";
        return false;
      }
      o->id = value.rfind("client.", 0) == 0 ? value.substr(7) : value;
    } else if (key == "cache") {
      if (value != "0" && value != "1") {
        *why = "cache takes 0 or 1 (got '" + value + "')";
        return false;
      }
      o->cache = value == "1";
    } else {
      *why = "unknown rbd option '" + key + "' (known: osd_op_timeout, conf, id, cache)";
      return false;
    }
  }
  return true;
}

std::string errtext(int negative) {
  return std::strerror(negative < 0 ? -negative : negative);
}

lunkit_rbd::ClusterKey cluster_key(const RbdOptions& o, int timeout) {
  return {.conf = o.conf, .id = o.id, .op_timeout = timeout, .cache = o.cache};
}

// The image open on a cluster connection (shared with other images, see cluster.h); closes what
// it opened and lets go of the connection.
class Connection {
 public:
  // `cluster` is taken over whatever happens.
  static std::unique_ptr<Connection> open(const RbdOptions& o, bool read_only,
                                          lunkit_rbd::ClusterRef cluster, std::string* why) {
    std::unique_ptr<Connection> c(new Connection);
    c->cluster_ = std::move(cluster);
    int r = rados_ioctx_create(c->cluster_.handle(), o.pool.c_str(), &c->io_);
    if (r < 0) {
      *why = r == -ENOENT ? "pool '" + o.pool + "' does not exist"
                          : "pool '" + o.pool + "': " + errtext(r);
      return nullptr;
    }
    c->have_io_ = true;
    r = read_only ? rbd_open_read_only(c->io_, o.image.c_str(), &c->image_, nullptr)
                  : rbd_open(c->io_, o.image.c_str(), &c->image_, nullptr);
    if (r < 0) {
      *why = r == -ENOENT ? "image '" + o.spec() + "' does not exist"
                          : "image '" + o.spec() + "': " + errtext(r);
      return nullptr;
    }
    c->have_image_ = true;
    return c;
  }

  ~Connection() {
    if (have_image_) rbd_close(image_);  // waits for in-flight I/O and its callbacks
    if (have_io_) rados_ioctx_destroy(io_);
    // cluster_ goes last: the connection ends with its last image
  }

  rbd_image_t image() const { return image_; }
  rados_t cluster() const { return cluster_.handle(); }
  lunkit_rbd::ClusterRef& shared() { return cluster_; }

  // This client's address, as the cluster's blocklist shows it.
  std::string address() const { return cluster_.address(); }

  bool conf_true(const char* key) const {
    char buf[32] = {};
    return rados_conf_get(cluster(), key, buf, sizeof buf - 1) == 0 &&
           std::strcmp(buf, "true") == 0;
  }

 private:
  Connection() = default;
  lunkit_rbd::ClusterRef cluster_;
  rados_ioctx_t io_{};
  rbd_image_t image_{};
  bool have_io_ = false, have_image_ = false;
};

enum class Op : uint8_t { kRead, kWrite, kFlush, kDiscard, kWriteZeroes, kCompareAndWrite };
const char* op_name(Op op) {
  static constexpr const char* kNames[] = {"read",    "write",        "flush",
                                           "discard", "write zeroes", "compare and write"};
  return kNames[static_cast<int>(op)];
}

// Per-I/O state, in lunkit_io_private(): nothing is allocated per command (librbd allocates its
// own completion; COMPARE AND WRITE over a scattered buffer gathers into a bounce buffer).
struct RbdIo {
  class RbdDevice* device;
  lunkit_io* io;
  uint64_t offset;
  uint64_t mismatch;  // compare_and_write: librbd writes the first differing byte here
  char* bounce;       // compare_and_write over several iovecs: compare data then write data
  uint32_t length;    // compare_and_write: bytes compared
  Op op;
};
static_assert(sizeof(RbdIo) <= LUNKIT_IO_PRIVATE_MAX);

class RbdDevice final : public lunkit_rbd::Member {
 public:
  static RbdDevice* open(lunkit_device* dev, const char* cfg, lunkit_device_info* info,
                         std::string* why) {
    RbdOptions o;
    if (!parse_options(cfg, &o, why)) return nullptr;
    auto cluster = lunkit_rbd::acquire_cluster(cluster_key(o, o.op_timeout), dev, why);
    if (!cluster) return nullptr;
    auto conn = Connection::open(o, false, std::move(cluster), why);
    if (!conn) return nullptr;
    uint64_t size = 0;
    rbd_image_info_t st{};
    int r = rbd_get_size(conn->image(), &size);
    if (r == 0) r = rbd_stat(conn->image(), &st, sizeof st);
    if (r < 0) {
      *why = "image '" + o.spec() + "': " + errtext(r);
      return nullptr;
    }
    std::string holder = lock_owner(conn->image());
    if (!holder.empty())
      lunkit_log(dev, 2,
                 "image %s: client %s holds its exclusive lock; writes take it over when "
                 "that client lets them",
                 o.spec().c_str(), holder.c_str());
    if (info->size == 0) info->size = size - size % info->block_size;
    if (size != info->size) {
      // Like the file handler: never resize someone's image to fit.
      *why = "image '" + o.spec() + "' is " + std::to_string(size) + " bytes but the LUN is " +
             std::to_string(info->size) + " bytes";
      return nullptr;
    }
    auto* d = new (std::nothrow) RbdDevice(dev, o, std::move(conn), size);
    if (!d) {
      *why = "out of memory";
      return nullptr;
    }
    d->cache_ = d->conn_->conf_true("rbd_cache");
    info->capabilities = LUNKIT_CAP_THIN | LUNKIT_CAP_UNMAP_ZEROES |
                         (d->cache_ ? LUNKIT_CAP_WRITE_CACHE : LUNKIT_CAP_FUA);
    info->optimal_transfer = static_cast<uint32_t>(st.obj_size);
    // An unmap frees RADOS objects whole: the object size is the allocation unit (VPD B0's
    // OPTIMAL UNMAP GRANULARITY, the ublk discard granularity), as tcmu-runner reports it.
    if (LUNKIT_INFO_HAS(info, unmap_granularity) && st.obj_size % info->block_size == 0 &&
        st.obj_size <= UINT32_MAX)
      info->unmap_granularity = static_cast<uint32_t>(st.obj_size);
    // librbd compares and writes within one 512-byte sector only (and answers EINVAL otherwise):
    // one block with 512-byte blocks; larger blocks fall back to lunkit's emulation.
    info->max_compare_and_write = 512;
    std::snprintf(info->product, sizeof info->product, "RBD");
    d->watch();
    // Fenced between connecting and now (another image found it blocklisted): move at once.
    if (!d->conn_->shared().join(d)) d->request(kReconnect);
    d->maintenance_ = std::thread([d] { d->maintain(); });
    lunkit_log(dev, 2, "image %s: %llu bytes, %llu-byte objects, librbd cache %s", o.spec().c_str(),
               static_cast<unsigned long long>(size), static_cast<unsigned long long>(st.obj_size),
               d->cache_ ? "on (writes are cached until a flush)" : "off");
    return d;
  }

  ~RbdDevice() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    if (maintenance_.joinable()) maintenance_.join();
    unwatch();
    // Never to write again: the others that left the fenced connection need not wait for this
    // one (if it was the last, the entry stays until the cluster expires it).
    if (unblocklist_pending_.exchange(false)) stale_->unwritten.fetch_sub(1);
    if (conn_) conn_->shared().leave(this);
    conn_.reset();
  }

  // Another image on this connection found it blocklisted: so is this image (the blocklist is
  // the client's). With the registry's lock held: only mu_, briefly.
  void cluster_fenced() override { request(kReconnect | kPeerFenced); }

  // ---- I/O, from the device's event loop(s) ----
  void read(lunkit_io* io, const iovec* iov, int n, uint64_t off) {
    submit(io, Op::kRead, off,
           [&](rbd_image_t img, rbd_completion_t c) { return rbd_aio_readv(img, iov, n, off, c); });
  }
  void write(lunkit_io* io, const iovec* iov, int n, uint64_t off) {
    // With librbd's cache off a write is on the OSDs when it completes: FUA needs nothing more.
    // With it on, lunkit was told (no FUA capability) and follows FUA writes with a flush.
    submit(io, Op::kWrite, off, [&](rbd_image_t img, rbd_completion_t c) {
      return rbd_aio_writev(img, iov, n, off, c);
    });
  }
  void flush(lunkit_io* io) {
    submit(io, Op::kFlush, 0,
           [&](rbd_image_t img, rbd_completion_t c) { return rbd_aio_flush(img, c); });
  }
  void discard(lunkit_io* io, uint64_t off, uint64_t len) {
    submit(io, Op::kDiscard, off,
           [&](rbd_image_t img, rbd_completion_t c) { return rbd_aio_discard(img, off, len, c); });
  }
  void write_zeroes(lunkit_io* io, uint64_t off, uint64_t len, uint32_t flags) {
    // Without "may unmap" the zeros must stay allocated (WRITE SAME without UNMAP).
    int zero_flags = (flags & LUNKIT_IO_MAY_UNMAP) ? 0 : RBD_WRITE_ZEROES_FLAG_THICK_PROVISION;
    submit(io, Op::kWriteZeroes, off, [&](rbd_image_t img, rbd_completion_t c) {
      return rbd_aio_write_zeroes(img, off, len, c, zero_flags, 0);
    });
  }
  void compare_and_write(lunkit_io* io, const iovec* iov, int n, uint64_t off, uint64_t len) {
    RbdIo* s = state(io);
    s->bounce = nullptr;
    const char* cmp;
    const char* data;
    if (n >= 1 && iov[0].iov_len >= 2 * len) {
      cmp = static_cast<const char*>(iov[0].iov_base);
      data = cmp + len;
    } else if (n == 2 && iov[0].iov_len == len && iov[1].iov_len >= len) {
      cmp = static_cast<const char*>(iov[0].iov_base);
      data = static_cast<const char*>(iov[1].iov_base);
    } else {  // scattered: gather (COMPARE AND WRITE is small and rare)
      s->bounce = static_cast<char*>(std::malloc(2 * len));
      if (!s->bounce) return lunkit_io_complete(io, -ENOMEM);
      size_t at = 0;
      for (int i = 0; i < n && at < 2 * len; ++i) {
        size_t k = std::min<size_t>(iov[i].iov_len, 2 * len - at);
        std::memcpy(s->bounce + at, iov[i].iov_base, k);
        at += k;
      }
      cmp = s->bounce;
      data = s->bounce + len;
    }
    s->length = static_cast<uint32_t>(len);
    s->mismatch = kNoOffset;
    submit(io, Op::kCompareAndWrite, off, [&](rbd_image_t img, rbd_completion_t c) {
      return static_cast<int>(
          rbd_aio_compare_and_write(img, off, len, cmp, data, c, &s->mismatch, 0));
    });
  }

  // ---- Configuration changes, on lunkitd's main thread ----
  // A size asked for through configfs: the image grows to it; lunkit never shrinks an image.
  int reconfig(uint64_t new_size, const char* new_cfg) {
    if (new_cfg) return -EOPNOTSUPP;
    if (!new_size) return 0;
    // Not under mu_: rbd_resize waits for librbd, whose callback threads (header watch,
    // completions) take mu_. Counted in in_flight_ like a command, so a reconnect waits for
    // it before replacing the image.
    if (reconnecting_.load(std::memory_order_seq_cst)) return -EAGAIN;
    in_flight_.fetch_add(1, std::memory_order_seq_cst);
    struct Done {
      RbdDevice* d;
      ~Done() { d->uncount(); }
    } done{this};
    if (reconnecting_.load(std::memory_order_seq_cst)) return -EAGAIN;
    uint64_t now = 0;
    int r = rbd_get_size(conn_->image(), &now);
    if (r < 0) return r;
    if (new_size < now) {
      lunkit_log(dev_, 0,
                 "image %s is %llu bytes; lunkit does not shrink images (rbd resize "
                 "--allow-shrink it first)",
                 opt_.spec().c_str(), static_cast<unsigned long long>(now));
      return -EINVAL;
    }
    if (new_size > now && (r = rbd_resize(conn_->image(), new_size)) < 0) {
      lunkit_log(dev_, 0, "resizing image %s to %llu bytes failed: %s", opt_.spec().c_str(),
                 static_cast<unsigned long long>(new_size), errtext(r).c_str());
      return r;
    }
    std::lock_guard lock(mu_);
    size_ = new_size;  // so the header watch does not report it a second time
    return 0;
  }

 private:
  RbdDevice(lunkit_device* dev, RbdOptions o, std::unique_ptr<Connection> c, uint64_t size)
      : dev_(dev), opt_(std::move(o)), conn_(std::move(c)), size_(size) {}

  static RbdIo* state(lunkit_io* io) { return static_cast<RbdIo*>(lunkit_io_private(io)); }

  // The client that holds the image's exclusive lock, if any.
  static std::string lock_owner(rbd_image_t image) {
    rbd_lock_mode_t mode;
    char* owners[4] = {};
    size_t count = 4;
    if (rbd_lock_get_owners(image, &mode, owners, &count) != 0 || count == 0) return "";
    std::string who = owners[0];
    rbd_lock_get_owners_cleanup(owners, count);
    return who;
  }

  template <typename Submit>
  void submit(lunkit_io* io, Op op, uint64_t off, Submit&& fn) {
    RbdIo* s = state(io);
    s->device = this;
    s->io = io;
    s->op = op;
    s->offset = off;
    if (op != Op::kCompareAndWrite) s->bounce = nullptr;
    // While a reconnect runs the image is being replaced: the initiator retries (BUSY).
    // Dekker handshake with reconnect(): both sides store then load, so seq_cst is needed.
    if (reconnecting_.load(std::memory_order_seq_cst)) return finish(s, -EAGAIN, false);
    in_flight_.fetch_add(1, std::memory_order_seq_cst);
    if (reconnecting_.load(std::memory_order_seq_cst)) return finish(s, -EAGAIN, true);
    rbd_completion_t c;
    int r = rbd_aio_create_completion(s, &RbdDevice::aio_done, &c);
    if (r < 0) return finish(s, r, true);
    r = fn(conn_->image(), c);
    if (r < 0) {
      rbd_aio_release(c);
      finish(s, r, true);
    }
  }

  // librbd's thread.
  static void aio_done(rbd_completion_t c, void* arg) {
    auto* s = static_cast<RbdIo*>(arg);
    int r = static_cast<int>(rbd_aio_get_return_value(c));
    rbd_aio_release(c);
    s->device->finish(s, r, true);
  }

  void finish(RbdIo* s, int r, bool counted) {
    if (r == -EILSEQ && s->op == Op::kCompareAndWrite) {
      // librbd gives the first difference from the start of the compare data, as SCSI does.
      lunkit_io_set_miscompare(s->io, s->mismatch < s->length ? s->mismatch : 0);
    } else if (r == -ESHUTDOWN) {  // EBLOCKLISTED: this client instance is fenced off for good
      request(kReconnect);
    } else if (r == -EROFS && !refused_.exchange(true)) {
      // Another client took the lock explicitly (rbd_lock_acquire, "rbd device map
      // --exclusive") and refuses to hand it over: librbd fails writes at once; so do we,
      // with WRITE PROTECTED, rather than retry forever. Said once.
      lunkit_log(dev_, 0,
                 "image %s: writes refused: another client holds its exclusive lock and "
                 "does not hand it over (rbd status %s shows it)",
                 opt_.spec().c_str(), opt_.spec().c_str());
    } else if (r >= 0 && s->op != Op::kRead &&
               unblocklist_pending_.load(std::memory_order_relaxed) &&
               unblocklist_pending_.exchange(false)) {
      // The new instance wrote, so it holds the lock now: librbd blocklisted the old instance
      // once more when it broke its lock. Once every image that was on the fenced connection
      // has done so, removing that entry is for good. (stale_ is replaced only by reconnect(),
      // with nothing in flight.)
      if (stale_->unwritten.fetch_sub(1) == 1) unblocklist_later(stale_->address);
    } else if (r < 0 && r != -ETIMEDOUT && r != -EAGAIN) {
      lunkit_log(dev_, 1, "%s at byte %llu failed: %s", op_name(s->op),
                 static_cast<unsigned long long>(s->offset), errtext(r).c_str());
    }
    if (s->bounce) {
      std::free(s->bounce);
      s->bounce = nullptr;
    }
    lunkit_io* io = s->io;
    if (counted) uncount();
    lunkit_io_complete(io, r < 0 ? r : 0);
  }

  void uncount() {
    if (in_flight_.fetch_sub(1, std::memory_order_seq_cst) == 1 &&
        reconnecting_.load(std::memory_order_seq_cst)) {
      // The reconnect waits for the old image's last command under mu_: pass through mu_ so
      // the wakeup cannot fall between its predicate check and its sleep.
      { std::lock_guard lock(mu_); }
      cv_.notify_all();
    }
  }

  // ---- The maintenance thread: size changes and reconnects, off the I/O path ----
  enum Work : unsigned { kCheckSize = 1, kReconnect = 2, kUnblocklist = 4, kPeerFenced = 8 };

  void request(unsigned work) {
    {
      std::lock_guard lock(mu_);
      work_ |= work;
    }
    cv_.notify_all();
  }
  void unblocklist_later(const std::string& address) {
    {
      std::lock_guard lock(mu_);
      stale_address_ = address;
      work_ |= kUnblocklist;
    }
    cv_.notify_all();
  }

  static void on_header_update(void* arg) { static_cast<RbdDevice*>(arg)->request(kCheckSize); }

  void watch() {
    watching_ =
        rbd_update_watch(conn_->image(), &watch_handle_, &RbdDevice::on_header_update, this) == 0;
  }
  void unwatch() {
    if (watching_) rbd_update_unwatch(conn_->image(), watch_handle_);
    watching_ = false;
  }

  void maintain() {
    std::unique_lock lock(mu_);
    for (;;) {
      cv_.wait(lock, [&] { return stopping_ || work_; });
      if (stopping_) return;
      unsigned work = std::exchange(work_, 0u);
      if (work & kReconnect) reconnect(lock, work & kPeerFenced);
      if ((work & kCheckSize) && !stopping_) check_size();
      if ((work & kUnblocklist) && !stopping_ && conn_) {
        // Not under mu_: the monitor command may take osd_op_timeout, and librbd's threads
        // need mu_ meanwhile. conn_ is replaced only on this thread.
        std::string stale = std::exchange(stale_address_, "");
        lock.unlock();
        unblocklist(stale);
        lock.lock();
      }
    }
  }

  void check_size() {
    uint64_t now = 0;
    if (rbd_get_size(conn_->image(), &now) < 0 || now == size_) return;
    lunkit_log(dev_, 1, "image %s changed size: %llu -> %llu bytes", opt_.spec().c_str(),
               static_cast<unsigned long long>(size_), static_cast<unsigned long long>(now));
    size_ = now;
    lunkit_device_resized(dev_, now);
  }

  // With mu_ held (released while waiting). New commands are answered BUSY meanwhile.
  // Registry calls (fence, leave, acquire, join) are made without mu_: the registry tells
  // members under its lock, and they take mu_ then.
  void reconnect(std::unique_lock<std::mutex>& lock, bool peer) {
    reconnecting_.store(true, std::memory_order_seq_cst);
    std::string old_address = conn_->address();
    if (peer)
      lunkit_log(dev_, 0, "another image found ceph client %llu blocklisted (%s); reconnecting",
                 static_cast<unsigned long long>(conn_->shared().serial()), old_address.c_str());
    else
      lunkit_log(dev_, 0,
                 "the cluster blocklisted this client (ceph client %llu, %s); reconnecting",
                 static_cast<unsigned long long>(conn_->shared().serial()), old_address.c_str());
    cv_.wait(lock, [&] { return in_flight_.load(std::memory_order_seq_cst) == 0 || stopping_; });
    // Not under mu_: unwatching waits for header-update callbacks, which take mu_.
    lock.unlock();
    unwatch();
    // No image opens on the fenced connection any more; the others on it are told to move.
    std::shared_ptr<lunkit_rbd::StaleClient> stale = conn_->shared().fence(this);
    conn_->shared().leave(this);
    // A reconnect before this image wrote again: it will never break that older lock now.
    if (unblocklist_pending_.exchange(false) && stale_->unwritten.fetch_sub(1) == 1 &&
        stale_ != stale)
      unblocklist_later(stale_->address);
    conn_.reset();  // the image's instance goes; the connection lives on while others are on it
    lock.lock();
    // Every command of the old instance finished before we got here (they are counted, and
    // finish() asks for the reconnect before it uncounts), and this image is no member of the
    // fenced connection any more: any kReconnect still pending is about the instance just
    // replaced. Acting on it reconnected a second time: the new instance was blocklisted too,
    // and the first instance's entry was never removed.
    work_ &= ~static_cast<unsigned>(kReconnect | kPeerFenced);
    for (int attempt = 1; !stopping_; ++attempt) {
      std::string why;
      lock.unlock();
      auto cluster = lunkit_rbd::acquire_cluster(cluster_key(opt_, opt_.op_timeout), dev_, &why);
      std::unique_ptr<Connection> c;
      if (cluster) c = Connection::open(opt_, false, std::move(cluster), &why);
      bool joined = c && c->shared().join(this);
      lock.lock();
      if (c) {
        conn_ = std::move(c);
        stale_ = stale;
        unblocklist_pending_.store(true);
        watch();
        lunkit_log(dev_, 2, "reconnected to image %s as %s (ceph client %llu)", opt_.spec().c_str(),
                   conn_->address().c_str(),
                   static_cast<unsigned long long>(conn_->shared().serial()));
        work_ |= kCheckSize;               // it may have changed while we were away
        if (!joined) work_ |= kReconnect;  // the new connection was fenced already
        reconnecting_.store(false, std::memory_order_seq_cst);
        return;
      }
      lunkit_log(dev_, 0, "reconnect attempt %d: %s", attempt, why.c_str());
      cv_.wait_for(lock, std::chrono::seconds(std::min(attempt, 10)), [&] { return stopping_; });
    }
  }

  // Best effort: the old instance's blocklist entry is of no use to anyone now.
  void unblocklist(const std::string& address) {
    if (address.empty()) return;
    std::string addr = address;
    if (size_t comma = addr.find(','); comma != std::string::npos) addr.resize(comma);
    if (addr.rfind("[", 0) == 0) addr = addr.substr(1);
    if (!addr.empty() && addr.back() == ']') addr.pop_back();
    if (size_t colon = addr.find(':'); addr.rfind("v2:", 0) == 0 || addr.rfind("v1:", 0) == 0)
      addr = addr.substr(colon + 1);
    std::string cmd =
        R"({"prefix": "osd blocklist", "blocklistop": "rm", "addr": ")" + addr + "\"}";
    const char* cmds[] = {cmd.c_str()};
    char *out = nullptr, *status = nullptr;
    size_t out_len = 0, status_len = 0;
    int r =
        rados_mon_command(conn_->cluster(), cmds, 1, "", 0, &out, &out_len, &status, &status_len);
    if (out) rados_buffer_free(out);
    if (status) rados_buffer_free(status);
    lunkit_log(dev_, r == 0 ? 2 : 1, "removing the old blocklist entry %s: %s", addr.c_str(),
               r == 0 ? "done" : errtext(r).c_str());
  }

  lunkit_device* dev_;
  RbdOptions opt_;
  std::unique_ptr<Connection> conn_;  // replaced only by reconnect(), with nothing in flight
  uint64_t size_;                     // guarded by mu_ after open
  bool cache_ = false;
  std::atomic<int> in_flight_{0};
  std::atomic<bool> reconnecting_{false};
  std::atomic<bool> refused_{false};                // EROFS reported once
  std::atomic<bool> unblocklist_pending_{false};    // after a reconnect, until the first write
  std::shared_ptr<lunkit_rbd::StaleClient> stale_;  // the fenced connection this image left
  std::string stale_address_;                       // the entry to remove now (mu_)
  uint64_t watch_handle_ = 0;
  bool watching_ = false;

  std::mutex mu_;
  std::condition_variable cv_;
  unsigned work_ = 0;
  bool stopping_ = false;
  std::thread maintenance_;
};

// ---- The C ABI ----
template <typename F>
auto guarded(lunkit_io* io, F&& f) {
  try {
    f();
  } catch (...) {
    lunkit_io_complete(io, -EIO);
  }
}

RbdDevice* self(void* h) {
  return static_cast<RbdDevice*>(h);
}

int rbd_check_config(const char* cfg, char* reason, size_t len) {
  std::string why;
  try {
    RbdOptions o;
    if (parse_options(cfg, &o, &why)) {
      // Read-only, briefly: no lock, no watch, nothing written.
      // On the shared connection if there is one up (nothing to connect); else on a
      // connection of its own with check_config's shorter timeout.
      auto cluster = lunkit_rbd::find_cluster(cluster_key(o, o.op_timeout));
      if (!cluster)
        cluster = lunkit_rbd::private_cluster(cluster_key(o, std::min(o.op_timeout, kCheckTimeout)),
                                              &why);
      if (cluster && Connection::open(o, true, std::move(cluster), &why)) return 0;
    }
  } catch (const std::exception& e) {
    why = e.what();
  }
  std::snprintf(reason, len, "%s", why.c_str());
  return -1;
}

void* rbd_open_device(lunkit_device* dev, const char* cfg, lunkit_device_info* info, char* reason,
                      size_t len) {
  std::string why;
  try {
    if (RbdDevice* d = RbdDevice::open(dev, cfg, info, &why)) return d;
  } catch (const std::exception& e) {
    why = e.what();
  }
  std::snprintf(reason, len, "%s", why.empty() ? "cannot open the image" : why.c_str());
  return nullptr;
}

void rbd_close_device(void* h) {
  delete self(h);
}

int rbd_reconfig(void* h, uint64_t new_size, const char* new_cfg, int) {
  try {
    return self(h)->reconfig(new_size, new_cfg);
  } catch (...) {
    return -EIO;
  }
}

void rbd_read(void* h, lunkit_io* io, const iovec* iov, int n, uint64_t off, uint64_t) {
  guarded(io, [&] { self(h)->read(io, iov, n, off); });
}
void rbd_write(void* h, lunkit_io* io, const iovec* iov, int n, uint64_t off, uint64_t, uint32_t) {
  guarded(io, [&] { self(h)->write(io, iov, n, off); });
}
void rbd_flush(void* h, lunkit_io* io) {
  guarded(io, [&] { self(h)->flush(io); });
}
void rbd_unmap(void* h, lunkit_io* io, uint64_t off, uint64_t len) {
  guarded(io, [&] { self(h)->discard(io, off, len); });
}
void rbd_zero(void* h, lunkit_io* io, uint64_t off, uint64_t len, uint32_t flags) {
  guarded(io, [&] { self(h)->write_zeroes(io, off, len, flags); });
}
void rbd_caw(void* h, lunkit_io* io, const iovec* iov, int n, uint64_t off, uint64_t len) {
  guarded(io, [&] { self(h)->compare_and_write(io, iov, n, off, len); });
}

lunkit_handler rbd_handler = [] {
  lunkit_handler h{};
  h.subtype = "rbd";
  h.cfg_desc =
      "<pool>/<image>[;osd_op_timeout=N][;conf=<path>][;id=<user>][;cache=1]: an RBD image of "
      "the Ceph cluster that conf (default: the standard ceph.conf) names, as Ceph user id. "
      "Operations time out after osd_op_timeout seconds (default 31) and the initiator retries "
      "them. cache=1 turns librbd's write-back cache on (off by default).";
  h.thread_model = LUNKIT_THREAD_NONBLOCKING;
  h.io_private_size = sizeof(RbdIo);
  h.check_config = rbd_check_config;
  h.open = rbd_open_device;
  h.close = rbd_close_device;
  h.reconfig = rbd_reconfig;
  h.read = rbd_read;
  h.write = rbd_write;
  h.flush = rbd_flush;
  h.unmap = rbd_unmap;
  h.write_zeroes = rbd_zero;
  h.compare_and_write = rbd_caw;
  h.flags = LUNKIT_HANDLER_MULTI_QUEUE;  // librbd is thread-safe: any number of loops at once
  return h;
}();

}  // namespace

LUNKIT_REGISTER_HANDLER(rbd_handler)
