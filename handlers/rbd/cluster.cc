// user:rbd — the registry of shared cluster connections (see cluster.h).
#include "handlers/rbd/cluster.h"

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <new>

// Internal to the plugin: nothing here is exported (the plugin's only export is its entry point).
namespace __attribute__((visibility("hidden"))) lunkit_rbd {

  namespace {
  std::string errtext(int negative) {
    return std::strerror(negative < 0 ? -negative : negative);
  }
  }  // namespace

  class Cluster {
   public:
    explicit Cluster(ClusterKey k, bool shared) : key(std::move(k)), shared(shared) {}
    ~Cluster() {
      if (created) rados_shutdown(rados);
    }

    // Blocking: not under the registry's lock.
    bool connect(std::string* why) {
      int r = rados_create(&rados, key.id.empty() ? nullptr : key.id.c_str());
      if (r < 0) {
        *why = "cannot create a Ceph client: " + errtext(r);
        return false;
      }
      created = true;
      r = rados_conf_read_file(rados, key.conf.empty() ? nullptr : key.conf.c_str());
      if (r < 0) {
        *why = key.conf.empty() ? "no ceph.conf found in the default places (add ;conf=<path>)"
                                : key.conf + ": " + errtext(r);
        return false;
      }
      std::string t = std::to_string(key.op_timeout);
      // A cluster that stops answering fails operations instead of hanging them.
      for (const char* k : {"rados_osd_op_timeout", "rados_mon_op_timeout", "client_mount_timeout"})
        rados_conf_set(rados, k, t.c_str());
      rados_conf_set(rados, "rbd_cache", key.cache ? "true" : "false");
      // Discards zero what they cover, even partial objects: unmapped blocks read as zeros.
      rados_conf_set(rados, "rbd_skip_partial_discard", "false");
      r = rados_connect(rados);
      if (r < 0) {
        *why = "cannot reach the Ceph cluster" +
               (key.conf.empty() ? std::string() : " of " + key.conf) + ": " +
               (r == -ETIMEDOUT ? "no monitor answered within " + t + " s" : errtext(r));
        return false;
      }
      return true;
    }

    const ClusterKey key;
    const bool shared;
    rados_t rados{};
    bool created = false;
    uint64_t serial = 0;
    // The registry's lock guards the rest.
    enum class State { kConnecting, kReady, kFailed } state = State::kConnecting;
    std::string why;
    int refs = 0;
    bool fenced = false;
    std::vector<Member*> members;
    std::shared_ptr<StaleClient> stale;
  };

  class Registry {
   public:
    static Registry& get() {
      static Registry r;  // never destroyed before the plugin's devices (they hold references)
      return r;
    }

    ClusterRef acquire(const ClusterKey& key, lunkit_device* log, std::string* why) {
      std::unique_lock lock(mu_);
      for (;;) {
        Cluster* c = current(key);
        if (!c) break;
        if (c->state == Cluster::State::kReady) {
          ++c->refs;
          return ClusterRef(c, log);
        }
        // Another image connects this key: its attempt answers for us too.
        ++c->refs;
        cv_.wait(lock, [&] { return c->state != Cluster::State::kConnecting; });
        if (c->state == Cluster::State::kReady) return ClusterRef(c, log);
        *why = c->why;
        release(lock, c, nullptr);
        return {};
      }
      auto* c = new (std::nothrow) Cluster(key, true);
      if (!c) {
        *why = "out of memory";
        return {};
      }
      c->refs = 1;
      c->serial = ++serials_;
      current_.push_back(c);
      lock.unlock();
      std::string failed;
      bool ok = c->connect(&failed);
      std::string address = ok ? address_of(c->rados) : "";
      lock.lock();
      c->state = ok ? Cluster::State::kReady : Cluster::State::kFailed;
      c->why = failed;
      cv_.notify_all();
      if (!ok) {
        *why = failed;
        forget(c);
        release(lock, c, nullptr);
        return {};
      }
      ++opened_;
      int open_now = static_cast<int>(opened_ - closed_);
      lock.unlock();
      if (log)
        lunkit_log(log, 2, "ceph client %llu connected (%s); %d cluster connection%s open",
                   static_cast<unsigned long long>(c->serial), address.c_str(), open_now,
                   open_now == 1 ? "" : "s");
      return ClusterRef(c, log);
    }

    ClusterRef find(const ClusterKey& key) {
      std::lock_guard lock(mu_);
      Cluster* c = current(key);
      if (!c || c->state != Cluster::State::kReady) return {};
      ++c->refs;
      return ClusterRef(c, nullptr);
    }

    void release(Cluster* c, lunkit_device* log) {
      std::unique_lock lock(mu_);
      release(lock, c, log);
    }

    bool join(Cluster* c, Member* m) {
      std::lock_guard lock(mu_);
      c->members.push_back(m);
      return !c->fenced;
    }
    void leave(Cluster* c, Member* m) {
      std::lock_guard lock(mu_);
      std::erase(c->members, m);
    }

    std::shared_ptr<StaleClient> fence(Cluster* c, Member* by, const std::string& address) {
      std::lock_guard lock(mu_);
      if (!c->fenced) {
        c->fenced = true;
        forget(c);
        c->stale = std::make_shared<StaleClient>();
        c->stale->address = address;
        c->stale->unwritten.store(static_cast<int>(c->members.size()));
        for (Member* m : c->members)
          if (m != by) m->cluster_fenced();
      }
      return c->stale;
    }

    ClusterRef make_private(const ClusterKey& key, std::string* why) {
      auto* c = new (std::nothrow) Cluster(key, false);
      if (!c) {
        *why = "out of memory";
        return {};
      }
      c->refs = 1;
      ClusterRef ref(c, nullptr);
      if (!c->connect(why)) return {};
      std::lock_guard lock(mu_);
      c->state = Cluster::State::kReady;
      return ref;
    }

    ClusterCounts counts() {
      std::lock_guard lock(mu_);
      return {opened_, closed_};
    }

    static std::string address_of(rados_t r) {
      char* addrs = nullptr;
      std::string a;
      if (rados_getaddrs(r, &addrs) == 0 && addrs) a = addrs;
      if (addrs) rados_buffer_free(addrs);
      return a;
    }

   private:
    Cluster* current(const ClusterKey& key) {
      for (Cluster* c : current_)
        if (c->key == key) return c;
      return nullptr;
    }
    void forget(Cluster* c) { std::erase(current_, c); }

    // The last reference shuts the connection down, outside the lock (rados_shutdown joins
    // librados's threads and may wait for the cluster).
    void release(std::unique_lock<std::mutex>& lock, Cluster* c, lunkit_device* log) {
      if (--c->refs > 0) return;
      forget(c);
      bool counted = c->shared && c->state == Cluster::State::kReady;
      if (counted) ++closed_;
      int open_now = static_cast<int>(opened_ - closed_);
      lock.unlock();
      uint64_t serial = c->serial;
      delete c;
      if (counted && log)
        lunkit_log(log, 2,
                   "ceph client %llu shut down: no image uses it; %d cluster connection%s open",
                   static_cast<unsigned long long>(serial), open_now, open_now == 1 ? "" : "s");
      lock.lock();
    }

    std::mutex mu_;
    std::condition_variable cv_;
    std::vector<Cluster*> current_;  // the connection new images get, per key (few keys: a vector)
    uint64_t serials_ = 0, opened_ = 0, closed_ = 0;
  };

  ClusterRef& ClusterRef::operator=(ClusterRef&& o) noexcept {
    if (this != &o) {
      reset();
      c_ = std::exchange(o.c_, nullptr);
      log_ = o.log_;
    }
    return *this;
  }

  void ClusterRef::reset() {
    if (Cluster* c = std::exchange(c_, nullptr)) Registry::get().release(c, log_);
  }

  rados_t ClusterRef::handle() const {
    return c_->rados;
  }
  uint64_t ClusterRef::serial() const {
    return c_->serial;
  }
  std::string ClusterRef::address() const {
    return Registry::address_of(c_->rados);
  }
  bool ClusterRef::join(Member * m) {
    return Registry::get().join(c_, m);
  }
  void ClusterRef::leave(Member * m) {
    Registry::get().leave(c_, m);
  }
  std::shared_ptr<StaleClient> ClusterRef::fence(Member * by) {
    return Registry::get().fence(c_, by, address());
  }

  ClusterRef acquire_cluster(const ClusterKey& key, lunkit_device* log, std::string* why) {
    return Registry::get().acquire(key, log, why);
  }

  ClusterRef find_cluster(const ClusterKey& key) {
    return Registry::get().find(key);
  }

  ClusterRef private_cluster(const ClusterKey& key, std::string* why) {
    return Registry::get().make_private(key, why);
  }

  ClusterCounts cluster_counts() {
    return Registry::get().counts();
  }

}  // namespace lunkit_rbd
