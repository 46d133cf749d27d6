/* lunkit-tcmu: serve TCMU (target_core_user) LUNs from a program of your own, without lunkitd.
 *
 * A `lunkit_tcmu` context finds the kernel's TCMU devices (UIO discovery), attaches them (opens
 * /dev/uioN, maps the ring, sets the configfs attributes, runs the restart sequence), follows
 * the kernel's netlink events and serves every LU with lunkit's SCSI emulation (libscsi) over
 * the storage callbacks of a `struct lunkit_handler` (lunkit/handler.h): the same structure,
 * callbacks, thread models and completion contract as a lunkitd handler plugin, including
 * handle_cmd(), which sees each raw CDB first. See lunkit-tcmu(3).
 *
 * Conventions: opaque handles; functions return 0 (or a count) on success and a negative errno
 * on failure; lunkit_tcmu_last_error() has a one-line explanation of the calling thread's last
 * failure. No C++ exception crosses this interface. Structs that may grow start with their
 * size, which the caller sets to sizeof the struct it was compiled with.
 *
 * Threads: every attached device runs its commands on an event-loop thread of its own, started
 * by the library (or, after lunkit_tcmu_caller_loops(), in the caller's thread). The control
 * functions (attach, detach, attach_all, handle_event, process) must not run concurrently with each
 * other on one context; while lunkit_tcmu_start()'s thread runs they fail with -EBUSY (that thread
 * does the control work then).
 */
#ifndef LUNKIT_TCMU_H
#define LUNKIT_TCMU_H

#include <stddef.h>
#include <stdint.h>

#include "lunkit/handler.h"
#include "lunkit/visibility.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct lunkit_tcmu lunkit_tcmu;

/* Where the kernel's files are, and how /dev/uioN is opened. Zeroed fields take the defaults. */
struct lunkit_tcmu_options {
  size_t size;                   /* sizeof(struct lunkit_tcmu_options) */
  const char* sysfs_dir;         /* NULL: "/sys" (class/uio/uioN) */
  const char* target_core_dir;   /* NULL: "/sys/kernel/config/target/core" */
  const char* module_params_dir; /* NULL: "/sys/module/target_core_user/parameters" */
  const char* dev_dir;           /* NULL: "/dev" */
  /* NULL: open <dev_dir>/uio<minor>. Otherwise returns 0 with the fd to read and write the
   * 4-byte UIO events on (`*doorbell_fd`, which the library flocks) and the fd to map the ring
   * from (`*map_fd`; for the kernel both are /dev/uioN); the library owns both fds afterwards
   * and closes them. Or returns a negative errno. Called on the thread attaching the device. */
  int (*open_uio)(void* context, uint32_t minor, int* doorbell_fd, int* map_fd);
  void* open_uio_context;
  /* Threads for the I/O of LUNKIT_THREAD_BLOCKING handlers; 0: 4. */
  unsigned worker_threads;
};

/* Creates a context; `options` may be NULL. -EINVAL: a bad options size. */
LUNKIT_API int lunkit_tcmu_new(const struct lunkit_tcmu_options* options, lunkit_tcmu** out);
/* Stops the control thread, detaches every device (the kernel's devices stay, blocked while
 * they drain) and frees the context. NULL is ignored. */
LUNKIT_API void lunkit_tcmu_free(lunkit_tcmu* tcmu);

/* The calling thread's explanation of its last failure on any context ("" if none). Valid until
 * that thread's next call into the library. */
LUNKIT_API const char* lunkit_tcmu_last_error(void);

/* Serves the devices of handler->subtype with `handler` (abi_version and struct_size set as
 * LUNKIT_REGISTER_HANDLER sets them). The handler must outlive the context. Before anything is
 * attached or started. -EINVAL: the handler is not valid (see the error text), -EEXIST: the
 * subtype is served already, -EBUSY: devices are attached or the control thread runs. */
LUNKIT_API int lunkit_tcmu_add_handler(lunkit_tcmu* tcmu, const struct lunkit_handler* handler);

/* Options appended to the cfgstring of every device of `subtype` when it is opened ("direct=1";
 * lunkitd's per-handler `defaults` of lunkit.conf): the device's own options come first, and a
 * handler takes the first occurrence of an option. Copied; NULL or "": none. Before anything is
 * attached or started. -ENOENT: no handler serves `subtype`; -EBUSY as lunkit_tcmu_add_handler. */
LUNKIT_API int lunkit_tcmu_handler_defaults(lunkit_tcmu* tcmu, const char* subtype,
                                            const char* defaults);

/* Copy groups. TCMU does not say which initiator sent a command, so an EXTENDED COPY that names
 * another LU (by its NAA designator) could read or overwrite any LU the context serves. Without
 * groups a LU copies only within itself; a group lets its LUs copy between each other (requests
 * to another LU run on that LU's loop). A device is named as targetcli names the backstore
 * ("disk0") or, when names repeat across HBAs, "user_<hba>/disk0". Copied. Before anything is
 * attached or started. -EINVAL: no name, fewer than two devices or a malformed device name;
 * -EEXIST: a group of that name exists; -EBUSY as lunkit_tcmu_add_handler. */
LUNKIT_API int lunkit_tcmu_add_copy_group(lunkit_tcmu* tcmu, const char* name,
                                          const char* const* devices, size_t count);

/* One TCMU device as the kernel names it: tcm-user/<hba>/<device>/<subtype>/<cfgstring>. */
struct lunkit_tcmu_uio {
  uint32_t minor; /* /dev/uio<minor> */
  uint32_t hba;   /* configfs: <target_core_dir>/user_<hba>/<device> */
  uint64_t map_size;
  char device[256];
  char subtype[256];
  char cfgstring[256];
};

/* Discovery: the TCMU devices whose subtype is `subtype` (NULL: every TCMU device). Writes up to
 * `max` of them to `out` (which may be NULL when max is 0) and returns how many there are. Any
 * thread. */
LUNKIT_API int lunkit_tcmu_find(lunkit_tcmu* tcmu, const char* subtype, struct lunkit_tcmu_uio* out,
                                size_t max);

/* lunkit_tcmu_attach() flags. */
/* The restart sequence, for a ring that may hold commands of an earlier server: block_dev=1,
 * reset_ring=1 (the kernel answers what the ring held with a retryable status), attach,
 * block_dev=0. */
#define LUNKIT_TCMU_ATTACH_RESET (1u << 0)

/* Attaches /dev/uio<minor> and starts serving it: takes an exclusive flock on it (a device that
 * another process serves is left untouched), reads its configfs attributes, opens the handler's
 * storage (handler->open() runs on this thread) and starts the device's loop thread.
 * -ENODEV: no such TCMU device, -ENOENT: no handler serves its subtype, -EEXIST: attached
 * already, -EBUSY: the control thread runs, -EIO: it could not be attached (flock held by
 * another process, open() failed, the ring could not be mapped: see the error text). */
LUNKIT_API int lunkit_tcmu_attach(lunkit_tcmu* tcmu, uint32_t minor, unsigned flags);

/* What a server does at start: holds back netlink events (block_netlink), releases waits left by
 * a server that died (reset_netlink), attaches every device a handler serves with the restart
 * sequence, and lets events flow again. A device whose storage cannot be opened stays blocked
 * and is retried with back-off by lunkit_tcmu_process() (or the control thread). With a
 * netlink socket (lunkit_tcmu_listen()), the kernel is then told to wait for the answers to its
 * device events. Returns the number of devices attached, or -EBUSY. */
LUNKIT_API int lunkit_tcmu_attach_all(lunkit_tcmu* tcmu);

/* lunkit_tcmu_detach() flags. */
#define LUNKIT_TCMU_DETACH_BLOCK (1u << 0) /* block_dev=1 while it drains, then block_dev=0 */

/* Stops serving a device: waits for its commands in flight, calls handler->close(). The kernel's
 * device stays. -ENOENT: not attached, -EBUSY: the control thread runs. */
LUNKIT_API int lunkit_tcmu_detach(lunkit_tcmu* tcmu, uint32_t minor, unsigned flags);

/* 1 when /dev/uio<minor> is attached, else 0; any thread. */
LUNKIT_API int lunkit_tcmu_attached(lunkit_tcmu* tcmu, uint32_t minor);
/* How many devices are attached; any thread. */
LUNKIT_API int lunkit_tcmu_count(lunkit_tcmu* tcmu);
/* The minors of the attached devices, in increasing order: writes up to `max` of them to
 * `minors` (NULL when max is 0) and returns how many there are. Any thread. */
LUNKIT_API int lunkit_tcmu_devices(lunkit_tcmu* tcmu, uint32_t* minors, size_t max);

/* ---- Device loops in the caller's thread ----
 * By default every attached device runs its commands on a loop thread of its own. After
 * lunkit_tcmu_caller_loops(tcmu, 1) (before anything is attached) devices get no thread: the
 * caller polls lunkit_tcmu_device_fd() of each for POLLIN and calls
 * lunkit_tcmu_device_process() when it is readable (or whenever it likes: it never waits).
 * Then everything runs in one thread of the caller's: these calls, the control functions and
 * the control loop (lunkit_tcmu_fd() + lunkit_tcmu_process(); lunkit_tcmu_start() is refused
 * with -EINVAL), and the handler's NONBLOCKING callbacks (BLOCKING ones still run on the worker
 * threads, and their completions come back through the device's fd). A device's fd is valid
 * while it is attached; on_event (REMOVED) and lunkit_tcmu_devices() tell which are.
 * lunkit_tcmu_detach() and lunkit_tcmu_free() finish a device's loop in the calling thread,
 * waiting for its commands in flight. */
/* -EBUSY: devices are attached or the control thread runs. */
LUNKIT_API int lunkit_tcmu_caller_loops(lunkit_tcmu* tcmu, int enabled);
/* The fd to poll for the device's work. -ENOENT: not attached; -EINVAL: not in caller mode. */
LUNKIT_API int lunkit_tcmu_device_fd(lunkit_tcmu* tcmu, uint32_t minor);
/* Does the device's work that is ready: commands from the ring, handler completions, answers
 * to the kernel (one kick). Returns the number of commands taken; errors as device_fd. */
LUNKIT_API int lunkit_tcmu_device_process(lunkit_tcmu* tcmu, uint32_t minor);

/* ---- Device events (the TCM-USER generic netlink family) ---- */

/* The kernel's commands (TCMU_CMD_*). */
#define LUNKIT_TCMU_ADDED_DEVICE 1
#define LUNKIT_TCMU_REMOVED_DEVICE 2
#define LUNKIT_TCMU_RECONFIG_DEVICE 3

struct lunkit_tcmu_event {
  size_t size;        /* sizeof(struct lunkit_tcmu_event) */
  uint32_t cmd;       /* LUNKIT_TCMU_*_DEVICE */
  uint32_t minor;     /* TCMU_ATTR_MINOR */
  uint32_t device_id; /* TCMU_ATTR_DEVICE_ID, echoed in the answer */
  const char* device; /* TCMU_ATTR_DEVICE: the UIO name (required for ADDED) */
  /* RECONFIG: the new dev_config (NULL: unchanged), size in bytes (0: unchanged), write cache
   * (-1: unchanged, 0 off, 1 on). */
  const char* dev_config;
  uint64_t dev_size;
  int32_t write_cache;
};

/* Handles one event as lunkitd does: ADDED attaches the device (handler->open()), REMOVED
 * detaches it (handler->close()), RECONFIG asks handler->reconfig() and applies a new size or
 * write cache to the LU. Returns the status the kernel expects in its *_DONE answer (0 or a
 * negative errno; REMOVED always 0). For a program with a netlink socket of its own; the tests
 * use it too. -EBUSY while the control thread runs; -EINVAL for a malformed event. */
LUNKIT_API int lunkit_tcmu_handle_event(lunkit_tcmu* tcmu, const struct lunkit_tcmu_event* event);

/* Called after each device event the library handled (by lunkit_tcmu_handle_event(),
 * lunkit_tcmu_process() or the control thread), on that thread, with the status answered.
 * `event` and its strings are valid during the call. Set before start; NULL: none. */
typedef void (*lunkit_tcmu_event_fn)(void* context, const struct lunkit_tcmu_event* event,
                                     int status);
LUNKIT_API int lunkit_tcmu_on_event(lunkit_tcmu* tcmu, lunkit_tcmu_event_fn fn, void* context);

/* ---- The control loop: device events, repairs of broken rings, retries of storage ---- */

/* Runs the control loop on a thread of the library's: lunkit_tcmu_attach_all(), then netlink
 * events (answered to the kernel), repairs and retries, until lunkit_tcmu_stop() or
 * lunkit_tcmu_free(). Without the TCM-USER netlink family (target_core_user not loaded) it runs
 * without events, unless `flags` has LUNKIT_TCMU_REQUIRE_NETLINK: then -ENOENT.
 * -EALREADY: started already. */
#define LUNKIT_TCMU_REQUIRE_NETLINK (1u << 0)
LUNKIT_API int lunkit_tcmu_start(lunkit_tcmu* tcmu, unsigned flags);
/* Stops the control thread (waiting up to `grace_ms` for it: it may be inside a handler's slow
 * open()) and makes the kernel stop waiting for answers. Devices stay attached. 0, or
 * -ETIMEDOUT when the thread is still busy (it ends on its own; lunkit_tcmu_free() is safe). */
LUNKIT_API int lunkit_tcmu_stop(lunkit_tcmu* tcmu, unsigned grace_ms);

/* For a process about to exit, when lunkit_tcmu_stop() timed out (a handler's open() does not
 * return): makes the kernel stop waiting for answers, detaches every device (blocked while it
 * drains; the kernel's devices stay for the next server) and attaches nothing from then on,
 * without waiting for the control thread. Only lunkit_tcmu_free() (which does wait for it) or
 * the process's exit may follow. Any thread. NULL is ignored. */
LUNKIT_API void lunkit_tcmu_shutdown(lunkit_tcmu* tcmu);

/* Tells the kernel not to wait for a server's answers to its device events, and fails the
 * configfs writes still waiting for one (targetcli sees -EINTR), so that none hangs once no
 * server answers: `lunkitd --release-netlink`. lunkit_tcmu_stop() and lunkit_tcmu_free() do the
 * same for a context whose control loop made the kernel wait. Any context, no handler needed.
 * 1: both done; 0: the kernel was told but the pending waits could not be released (the module
 * parameters were not writable: see the error text); -ENOENT: no TCM-USER netlink family. */
LUNKIT_API int lunkit_tcmu_release_waits(lunkit_tcmu* tcmu);

/* The same control loop inside the caller's own event loop:
 *   lunkit_tcmu_listen()    opens the netlink socket (before lunkit_tcmu_attach_all());
 *   lunkit_tcmu_fd()        an fd to poll for POLLIN (netlink events and broken rings);
 *   lunkit_tcmu_timeout()   milliseconds until a retry is due (-1: none), for poll's timeout;
 *   lunkit_tcmu_process()   handles what is ready (never waits): events, repairs, retries.
 * Call them from one thread. lunkit_tcmu_listen(): 0, -EALREADY, or -ENOENT without the netlink
 * family. lunkit_tcmu_process(): the number of events handled, or -EBUSY. */
LUNKIT_API int lunkit_tcmu_listen(lunkit_tcmu* tcmu);
LUNKIT_API int lunkit_tcmu_fd(lunkit_tcmu* tcmu);
LUNKIT_API int lunkit_tcmu_timeout(lunkit_tcmu* tcmu);
LUNKIT_API int lunkit_tcmu_process(lunkit_tcmu* tcmu);

#ifdef __cplusplus
}
#endif

#endif /* LUNKIT_TCMU_H */
