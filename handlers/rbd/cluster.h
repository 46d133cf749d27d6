// user:rbd — cluster connections (rados_t) shared by the images of one process.
//
// One connection per ClusterKey: everything that is set on the rados_t before it connects and so
// changes the connection (the ceph.conf, which names the monitors, keyring and cluster; the
// Ceph user; the operation timeouts; librbd's cache setting, read from the client's config at
// image open). It is opened by the first image that needs it and shut down with the last.
//
// Blocklisting is per client instance (address and nonce), so it fences every image on the
// connection at once. The image that first finds out fences the connection here: no image opens
// on it any more, the next one opens a fresh connection, and every other image on the fenced one
// is told to reconnect (each on its own maintenance thread, onto the fresh connection). The fenced
// rados_t lives on until its last image has left it.
#pragma once

#include <lunkit/handler.h>
#include <rados/librados.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

// Internal to the plugin: nothing here is exported (the plugin's only export is its entry point).
namespace __attribute__((visibility("hidden"))) lunkit_rbd {

  struct ClusterKey {
    std::string conf;  // "" = librados's default search
    std::string id;    // "" = librados's default user
    int op_timeout = 0;
    bool cache = false;
    bool operator==(const ClusterKey&) const = default;
  };

  // An image on a shared connection, told when another image found the connection blocklisted.
  // Called with the registry's lock held: it must only take its own short locks.
  class Member {
   public:
    virtual void cluster_fenced() = 0;

   protected:
    ~Member() = default;
  };

  // The blocklist entry of a fenced connection, shared by the images that were on it. Each one's
  // new instance breaks its old instance's lock at its first write, and librbd blocklists the old
  // address again when it does: the entry can go for good only after the last of them has written.
  struct StaleClient {
    std::string address;
    std::atomic<int> unwritten{0};
  };

  class Cluster;

  // A counted reference to a connection; the last one shuts the connection down.
  class ClusterRef {
   public:
    ClusterRef() = default;
    ClusterRef(ClusterRef&& o) noexcept : c_(std::exchange(o.c_, nullptr)), log_(o.log_) {}
    ClusterRef& operator=(ClusterRef&& o) noexcept;
    ~ClusterRef() { reset(); }
    void reset();
    explicit operator bool() const { return c_ != nullptr; }
    rados_t handle() const;
    uint64_t serial() const;
    std::string address() const;

    // Registers `m` to be told if the connection is fenced; false if it already is.
    bool join(Member* m);
    void leave(Member* m);
    // Marks the connection blocklisted: no new image opens on it, its other members are told.
    // Returns the entry every image that was on it shares (the same one for every caller).
    std::shared_ptr<StaleClient> fence(Member* by);

   private:
    friend class Registry;
    ClusterRef(Cluster* c, lunkit_device* log) : c_(c), log_(log) {}
    Cluster* c_ = nullptr;
    lunkit_device* log_ = nullptr;  // the device whose log says when the connection ends
  };

  // The shared connection for `key`, connecting it if there is none (outside the registry's lock;
  // others that want the same key wait for that attempt, others do not). `timeout` bounds the
  // connect. `log` names the device in the log lines "ceph client N connected" / "shut down".
  ClusterRef acquire_cluster(const ClusterKey& key, lunkit_device* log, std::string* why);
  // The shared connection for `key` if one is up and not fenced; never connects.
  ClusterRef find_cluster(const ClusterKey& key);
  // A connection of its own, not shared (check_config with its shorter timeout).
  ClusterRef private_cluster(const ClusterKey& key, std::string* why);

  // Shared connections opened and shut down since the plugin was loaded (what the log lines say).
  struct ClusterCounts {
    uint64_t opened = 0, closed = 0;
  };
  ClusterCounts cluster_counts();

}  // namespace lunkit_rbd
