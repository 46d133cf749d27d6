/* lunkit handler plugins: the stable C ABI between lunkitd and the storage behind a LUN.
 *
 * A plugin is a shared object that defines one `struct lunkit_handler` and registers it with
 * LUNKIT_REGISTER_HANDLER(). lunkitd loads every *.so in its handler directory, picks the handler
 * whose `subtype` equals the first element of a device's dev_config (targetcli's user:<subtype>),
 * and calls it for every device of that subtype. See lunkit-handler(3) for a complete example.
 *
 * ABI rules. Every struct the two sides exchange can grow, and each side knows how much of it the
 * other has:
 *   struct lunkit_handler      starts with the plugin's ABI version and its own size (filled by
 *                              LUNKIT_REGISTER_HANDLER); lunkit treats fields past that size as
 *                              absent (their documented default).
 *   struct lunkit_device_info  lunkit allocates it and, from ABI version 2, fills `struct_size`
 *                              and `host_abi_version`; a plugin touches no byte past
 *                              `struct_size` (LUNKIT_INFO_HAS() tests a field). lunkit reads
 *                              the output fields of the plugin's own ABI version only: a field a
 *                              version-1 plugin does not know keeps its default.
 *   struct lunkit_extent       not exchanged (extents pass through lunkit_io_add_extent()).
 * New fields, flags and functions are only ever added; an existing one never changes meaning, and
 * every new one has a default that means "as before". So:
 *   - lunkit loads plugins of every ABI version from 1 to its own unchanged;
 *   - it also loads a plugin of a *newer* version, whose handler struct it reads up to the fields
 *     it knows (the rest is the plugin's, ignored). Such a plugin must work with what an older
 *     host provides: it reads `info->host_abi_version` in open() and refuses there, with a reason,
 *     if it needs something newer. Capability and I/O flags lunkit does not know are ignored;
 *     a thread model it does not know makes it refuse the plugin.
 *   - a change that cannot follow these rules would rename the entry point (a new symbol), so an
 *     older host never loads such a plugin.
 * No C++ exceptions may cross this interface.
 *
 * Thread model (`thread_model`):
 *   LUNKIT_THREAD_NONBLOCKING  I/O callbacks (and handle_cmd) run on the device's event-loop
 *                              thread and must not block. The handler may queue io_uring I/O on
 *                              that loop with lunkit_get_sqe(); its completions run on the same
 *                              thread.
 *   LUNKIT_THREAD_BLOCKING     I/O callbacks run on a bounded pool of worker threads and may
 *                              block (pread, fsync, a library call); several run at once, so
 *                              the handler must be thread-safe.
 *   LUNKIT_THREAD_SERIALIZED   (ABI 2) I/O callbacks run on the worker pool and may block, but
 *                              one request at a time per device: lunkit calls the next one only
 *                              after the previous one called lunkit_io_complete() (as
 *                              tcmu-runner's nr_threads = 1 or nbdkit's SERIALIZE_REQUESTS).
 *                              Different devices of the handler still run at the same time.
 * Where the other callbacks run, whatever the thread model:
 *   check_config  for D-Bus CheckConfig (asked by root only) on a thread of its own, up to four
 *                 at once, so it must be thread-safe; or on the thread attaching a device or
 *                 starting `lunkit ublk`. It may block (targetcli waits for the answer), but
 *                 should bound its wait (rbd: at most 10 s).
 *   open, close   on the thread attaching or detaching the device (not its loop); may block.
 *                 No I/O of the device is in flight during close.
 *   reconfig      on the device's event-loop thread, between commands (so a NONBLOCKING handler
 *                 needs no lock against its own I/O); the LUN's commands wait while it runs, so
 *                 it should not block for long. A ublk device's loop is its first queue's (`lunkit
 *                 ublk resize`); with LUNKIT_HANDLER_MULTI_QUEUE the other queues keep serving
 *                 meanwhile.
 * A callback that continues an I/O from inside a completion (a follow-up request of lunkit's
 * write_zeroes or COMPARE AND WRITE emulation) runs on whichever thread called
 * lunkit_io_complete(): the loop, a worker, or a library's own thread (librbd's callbacks).
 *
 * Completion: every I/O callback receives a `struct lunkit_io *` token and must call
 * lunkit_io_complete() exactly once, from any thread, now or later, with 0 or a negative errno.
 * The iovecs stay valid until then. Errors map to SCSI sense: -EIO medium error, -ENOSPC space
 * allocation failed, -EOPNOTSUPP "not implemented here" (lunkit falls back to the documented
 * default where there is one). Transient errors, for "try again": -EAGAIN, -EBUSY, -ETIMEDOUT,
 * -ENOTCONN, -ECONNRESET, -ESHUTDOWN, -EINTR, -ENOMEM: on a TCMU LUN BUSY (TASK SET FULL for
 * -ENOMEM), which the initiator retries; on a ublk device lunkit issues the same request to the
 * handler again after a back-off, for up to its retry timeout (30 s by default), then fails it
 * with -EIO.
 */
#ifndef LUNKIT_HANDLER_H
#define LUNKIT_HANDLER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "lunkit/visibility.h"

#ifdef __cplusplus
extern "C" {
#endif

#define LUNKIT_HANDLER_ABI_VERSION 2
/* Bytes of per-I/O scratch space a handler may ask for (`io_private_size`). */
#define LUNKIT_IO_PRIVATE_MAX 128

enum lunkit_thread_model {
  LUNKIT_THREAD_NONBLOCKING = 0,
  LUNKIT_THREAD_BLOCKING = 1,
  LUNKIT_THREAD_SERIALIZED = 2, /* ABI 2 */
};

/* Which kernel interface serves the device (lunkit_device_info.frontend, ABI 2). */
enum lunkit_frontend {
  LUNKIT_FRONTEND_UNKNOWN = 0, /* a test or a benchmark */
  LUNKIT_FRONTEND_TCMU = 1,    /* a LIO backstore (lunkitd) */
  LUNKIT_FRONTEND_UBLK = 2,    /* a ublk block device (lunkit ublk) */
};

/* Capabilities a handler reports from open(). */
#define LUNKIT_CAP_THIN (1u << 0)         /* unmap() deallocates (thin provisioning) */
#define LUNKIT_CAP_UNMAP_ZEROES (1u << 1) /* deallocated blocks read back as zeros (LBPRZ) */
#define LUNKIT_CAP_WRITE_CACHE (1u << 2)  /* volatile write cache: flush() is needed */
#define LUNKIT_CAP_FUA (1u << 3)          /* honours LUNKIT_IO_FUA natively */
#define LUNKIT_CAP_ROTATIONAL (1u << 4)
#define LUNKIT_CAP_READ_ONLY (1u << 5)
/* ABI 2: write_zeroes() honours LUNKIT_IO_FAST_ZERO. Default (unset): lunkit fails a fast-zero
 * request with -EOPNOTSUPP without calling the handler. */
#define LUNKIT_CAP_FAST_ZERO (1u << 6)
/* ABI 2 (December 2026): read() and write() can move the data with a registered buffer instead
 * of the iovecs' memory. Where lunkit_io_fixed_buffer() returns an index (>= 0), the data is a
 * buffer registered with the ring of the loop the call runs on, and the iovecs hold addresses
 * within that buffer as io_uring counts them (the pages ublk lends start at 0), not memory the
 * handler may touch: it moves the data with IORING_OP_READ_FIXED / WRITE_FIXED (buf_index = that
 * index, addr = the iovec's iov_base) on an SQE from lunkit_get_sqe(). On ublk, lunkit then asks
 * the kernel to lend the block request's own pages (UBLK_F_AUTO_BUF_REG, Linux 6.16): no copy
 * through a server buffer. Only a NONBLOCKING handler's capability counts; report it only where
 * every read and write goes through io_uring (the file handler does, except on tmpfs). Default
 * (unset): iovecs always point to memory. */
#define LUNKIT_CAP_FIXED_BUFFERS (1u << 7)

/* Flags on an I/O. */
#define LUNKIT_IO_FUA (1u << 0)       /* write, write_zeroes: durable before completion */
#define LUNKIT_IO_MAY_UNMAP (1u << 1) /* write_zeroes: the range may be deallocated */
/* write_zeroes (ABI 2, only with LUNKIT_CAP_FAST_ZERO): zero the range only if that is fast (a
 * hole punch, a metadata operation); otherwise complete with -EOPNOTSUPP at once without writing.
 * lunkit then does not write zeros itself either: the caller (a BLKZEROOUT with NOFALLBACK, a
 * copy that skips zeros) asked to know, not to wait. */
#define LUNKIT_IO_FAST_ZERO (1u << 2)

/* What a device looks like. open() receives the kernel's configuration in `size` and
 * `block_size` and may change them (a size disagreement should be an error, not a resize).
 * Fields marked "input" are lunkit's to fill; the others are the handler's answer, and arrive
 * holding their default (0 unless said otherwise). */
struct lunkit_device_info {
  uint64_t size;                /* bytes */
  uint32_t block_size;          /* logical block size: 512 .. 65536, a power of two */
  uint32_t physical_block_size; /* 0: same as block_size */
  uint32_t max_transfer;        /* bytes per I/O; 0: no limit of the handler's own */
  uint32_t optimal_transfer;    /* bytes; 0: not reported */
  uint32_t capabilities;        /* LUNKIT_CAP_* */
  /* Identity hints; empty: lunkit's defaults (or the unit serial from configfs). */
  char vendor[9];
  char product[17];
  char revision[5];
  char unit_serial[65];
  /* The largest compare_and_write() the handler can do atomically, in bytes; 0: any size lunkit
   * sends (up to 32 blocks). Less than one block: lunkit emulates COMPARE AND WRITE instead. */
  uint32_t max_compare_and_write;
  /* Seconds the kernel waits for a command before it aborts it: the backstore's
   * attrib/cmd_time_out (the kernel's default is 30; 0: the kernel never times out, as on a
   * ublk device). Input only: keep the handler's own timeouts (a cluster's operation timeout)
   * below it, so the handler answers first. Added to ABI version 1 after its first release, like
   * max_compare_and_write: a handler that reads it needs a lunkitd that fills it. */
  uint32_t cmd_time_out;

  /* ---- ABI version 2 (absent for a version-1 plugin; test with LUNKIT_INFO_HAS) ---- */
  /* Input: the bytes of this struct lunkit allocated. The plugin reads and writes nothing past
   * them (a newer plugin on an older host sees a shorter struct). */
  uint32_t struct_size;
  /* Input: the host's LUNKIT_HANDLER_ABI_VERSION, for a plugin that needs a newer host. */
  uint32_t host_abi_version;
  /* Input: enum lunkit_frontend. */
  uint32_t frontend;
  /* Input: the most requests lunkit has in flight to the handler for this device at once, per
   * queue (ublk: --depth; several queues each have this many). 0: not bounded by lunkit (a TCMU
   * LUN is bounded by its command ring instead). For preallocating per-request state. */
  uint32_t queue_depth;
  /* Input: event loops (ublk queues) that may call the handler at once; 1 without
   * LUNKIT_HANDLER_MULTI_QUEUE. */
  uint32_t nr_queues;
  /* Unmap geometry, in bytes (multiples of block_size; reported in VPD Block Limits and the ublk
   * discard limits). Only with LUNKIT_CAP_THIN.
   *   unmap_granularity  the allocation unit unmap() frees whole; 0: one logical block.
   *   unmap_alignment    where the first whole unit starts; 0: at offset 0. Below granularity.
   *   max_unmap          the longest unmap() the handler wants; 0: lunkit's limit (its
   *                      maximum WRITE SAME length). Advertised (MAXIMUM UNMAP LBA COUNT,
   *                      ublk max_discard_sectors): the kernel splits to it, and libscsi
   *                      refuses an UNMAP command that asks for more. */
  uint32_t unmap_granularity;
  uint32_t unmap_alignment;
  uint32_t max_unmap;
};

/* Whether `info` (as lunkit passed it) has `field`: use before touching a field newer than
 * version 1 (lunkit of version 1 has no struct_size; a version-2 plugin is only loaded by a host
 * of version 2 or later, so struct_size itself is always there for it). */
#define LUNKIT_INFO_HAS(info, field)                                     \
  (offsetof(struct lunkit_device_info, field) + sizeof((info)->field) <= \
   (size_t)(info)->struct_size)

struct lunkit_device; /* one open device, owned by lunkit */
struct lunkit_io;     /* one request: the completion token */
struct lunkit_cmd;    /* one SCSI command offered to handle_cmd() */

/* One extent of a block_status() answer. */
struct lunkit_extent {
  uint64_t offset;
  uint64_t length;
  uint32_t deallocated; /* 1: unmapped (reads as zeros when LUNKIT_CAP_UNMAP_ZEROES) */
};

/* The `type` of lunkit_io_add_extent(): a combination of these (ABI 2; version 1's
 * `deallocated` argument, 0 or 1, means the same as 0 or LUNKIT_EXTENT_HOLE).
 *   0                     mapped: allocated, may hold data.
 *   LUNKIT_EXTENT_HOLE    deallocated (GET LBA STATUS "deallocated"); reads as zeros if
 *                         LUNKIT_CAP_UNMAP_ZEROES or with LUNKIT_EXTENT_ZERO.
 *   LUNKIT_EXTENT_ZERO    reads as zeros. Alone: allocated but known to be zero (a preallocated
 *                         extent, a file's unwritten extent); SCSI reports it mapped. */
#define LUNKIT_EXTENT_HOLE (1u << 0)
#define LUNKIT_EXTENT_ZERO (1u << 1)

struct lunkit_handler {
  /* Filled by LUNKIT_REGISTER_HANDLER. */
  uint32_t abi_version;
  uint32_t struct_size;

  /* Required. The user:<subtype> name: letters, digits and '_' only. */
  const char* subtype;
  /* Shown by `targetcli ... help create` under CFGSTRING FORMAT. */
  const char* cfg_desc;
  uint32_t thread_model; /* enum lunkit_thread_model */
  uint32_t
      io_private_size; /* bytes of lunkit_io_private() per I/O, at most LUNKIT_IO_PRIVATE_MAX */

  /* Optional. Whether `cfgstring` (the part after "<subtype>/") could be opened. Must have no
   * side effects: create, write and lock nothing. On failure returns -1 and writes a reason a user
   * can act on into `reason` (NUL-terminated, at most `reason_len` bytes).
   * Default: every cfgstring is accepted. */
  int (*check_config)(const char* cfgstring, char* reason, size_t reason_len);

  /* Required. Opens the storage for one device. `info` arrives with the kernel's size and block
   * size and is filled in. Returns the handle passed to every other callback, or NULL with a
   * reason in `reason`. */
  void* (*open)(struct lunkit_device* dev, const char* cfgstring, struct lunkit_device_info* info,
                char* reason, size_t reason_len);
  /* Required. No I/O is in flight when it is called. */
  void (*close)(void* handle);

  /* Optional. The kernel changed the device: new_size (bytes, 0: unchanged), new cfgstring
   * (NULL: unchanged), write cache (-1: unchanged, 0 off, 1 on). Returns 0 or -errno; an error
   * reaches the configfs write that asked for the change, and lunkit leaves the LUN as it was.
   * Default: size and cfgstring changes are refused with -EOPNOTSUPP; a write-cache change is
   * accepted (lunkit reports it to the initiator and FUA-writes when the cache is off). */
  int (*reconfig)(void* handle, uint64_t new_size, const char* new_cfgstring, int write_cache);

  /* Required I/O. Offsets and lengths are bytes, multiples of the block size, inside the device.
   * The iovecs hold exactly `length` bytes. */
  void (*read)(void* handle, struct lunkit_io* io, const struct iovec* iov, int iovcnt,
               uint64_t offset, uint64_t length);
  void (*write)(void* handle, struct lunkit_io* io, const struct iovec* iov, int iovcnt,
                uint64_t offset, uint64_t length, uint32_t flags);
  /* Optional. Default: completes at once (no volatile cache). */
  void (*flush)(void* handle, struct lunkit_io* io);
  /* Optional (only called with LUNKIT_CAP_THIN). Default: -EOPNOTSUPP, which disables UNMAP. */
  void (*unmap)(void* handle, struct lunkit_io* io, uint64_t offset, uint64_t length);
  /* Optional. Default: lunkit writes zero-filled buffers with write(), or fails at once with
   * -EOPNOTSUPP for LUNKIT_IO_FAST_ZERO. Completing with -EOPNOTSUPP also gets the default. */
  void (*write_zeroes)(void* handle, struct lunkit_io* io, uint64_t offset, uint64_t length,
                       uint32_t flags);
  /* Optional. Atomically: if the `length` bytes at `offset` equal the first half of the iovecs,
   * write the second half; else complete with -EILSEQ after lunkit_io_set_miscompare().
   * Default: lunkit reads, compares and writes while holding back other writes to the LUN. */
  void (*compare_and_write)(void* handle, struct lunkit_io* io, const struct iovec* iov, int iovcnt,
                            uint64_t offset, uint64_t length);
  /* Optional. Reports extents from `offset` with lunkit_io_add_extent() (the first one starting at
   * `offset`), then completes. Default: everything is reported mapped. */
  void (*block_status)(void* handle, struct lunkit_io* io, uint64_t offset, uint64_t length);

  /* Optional. Sees every SCSI command before lunkit's SPC/SBC emulation, on the device's loop
   * thread (it must not block). Returns LUNKIT_CMD_DECLINED and lunkit executes the command, or
   * LUNKIT_CMD_ACCEPTED and the handler answers it with lunkit_cmd_complete() exactly once, from
   * any thread. For what lunkit's emulation does not describe: vendor commands, other device
   * types. Default: lunkit executes every command. */
  int (*handle_cmd)(void* handle, struct lunkit_cmd* cmd);

  /* Optional. LUNKIT_HANDLER_* flags. Default: 0. */
  uint32_t flags;
};

/* A NONBLOCKING handler whose callbacks for one device may run on several event loops at the same
 * time: the ublk frontend serves a device with one loop per queue (`lunkit ublk add --queues N`).
 * Each call still runs on one loop thread and lunkit_get_sqe() gives an SQE of that loop.
 * Without the flag lunkit serves the device from one loop. BLOCKING handlers are called from
 * several worker threads anyway; the flag changes nothing for them. */
#define LUNKIT_HANDLER_MULTI_QUEUE (1u << 0)

#define LUNKIT_CMD_DECLINED 0
#define LUNKIT_CMD_ACCEPTED 1

/* ---- Functions lunkit provides to handlers ---- */

/* Completes an I/O; exactly once, from any thread. */
LUNKIT_API void lunkit_io_complete(struct lunkit_io* io, int result);
/* The handler's scratch space for this I/O (io_private_size bytes, 16-byte aligned). */
LUNKIT_API void* lunkit_io_private(struct lunkit_io* io);

/* ABI 2 (December 2026; a plugin that calls it needs a host of that date or later): the index of
 * the registered buffer holding a read's or write's data (see LUNKIT_CAP_FIXED_BUFFERS), or -1
 * when the iovecs point to memory (always for a handler without that capability, and for the
 * writes of lunkit's write_zeroes emulation). Only valid inside read() and write() and until the
 * I/O completes. */
LUNKIT_API int lunkit_io_fixed_buffer(struct lunkit_io* io);
/* compare_and_write: the byte offset of the first difference, before completing with -EILSEQ. */
LUNKIT_API void lunkit_io_set_miscompare(struct lunkit_io* io, uint64_t offset);
/* block_status: adds one extent of `type` (LUNKIT_EXTENT_*, or version 1's 0/1 for
 * mapped/deallocated); returns -1 when no more fit (complete then). */
LUNKIT_API int lunkit_io_add_extent(struct lunkit_io* io, uint64_t offset, uint64_t length,
                                    int type);

/* handle_cmd(): the command's CDB and data buffer (Data-Out to read, or Data-In to fill). */
LUNKIT_API const uint8_t* lunkit_cmd_cdb(struct lunkit_cmd* cmd, size_t* cdb_len);
LUNKIT_API const struct iovec* lunkit_cmd_data(struct lunkit_cmd* cmd, int* iovcnt, size_t* length);
/* Answers an accepted command: SAM status (0 GOOD, 2 CHECK CONDITION, 8 BUSY, ...), sense data
 * for CHECK CONDITION (at most 96 bytes), and how many bytes of Data-In were filled. */
LUNKIT_API void lunkit_cmd_complete(struct lunkit_cmd* cmd, uint8_t status, const uint8_t* sense,
                                    size_t sense_len, size_t data_in_len);

/* NONBLOCKING handlers: an SQE on the device loop's io_uring. lunkit submits it at the end of
 * the loop iteration; when it completes, `completion->done(completion, cqe->res)` runs on the
 * loop thread. `completion` usually lives in lunkit_io_private(). Returns NULL when the ring is
 * full, and on any thread that is not running an event loop (a worker, a library's callback
 * thread, open/close): the ring has a single submitter. Complete the I/O with -EAGAIN then. */
struct io_uring_sqe;
struct lunkit_uring_completion {
  void (*done)(struct lunkit_uring_completion* completion, int32_t result);
};
LUNKIT_API struct io_uring_sqe* lunkit_get_sqe(struct lunkit_device* dev,
                                               struct lunkit_uring_completion* completion);

/* The storage changed size on its own (someone resized it behind lunkit, e.g. `rbd resize`):
 * lunkit tells the initiator about the new size, `size` bytes (a multiple of the block size) — on
 * a TCMU LUN with a CAPACITY DATA HAS CHANGED unit attention and the new READ CAPACITY. Any
 * thread, any time after open() returned; a size that did not change is ignored. (A resize asked
 * for through configfs arrives as reconfig() instead and needs no call.) */
LUNKIT_API void lunkit_device_resized(struct lunkit_device* dev, uint64_t size);

/* ABI 2: runs fn(arg) on the device's event loop, later (never from inside this call), with no
 * I/O pending needed: for housekeeping a NONBLOCKING handler does where its I/O runs (a
 * reconnect, expiring a cache), and for timers: on the loop, lunkit_get_sqe() gives an SQE for an
 * io_uring timeout (io_uring_prep_timeout) whose completion runs there when it expires. Any
 * thread, once the device is served (its first I/O; -ENOTCONN between open() and then) until it
 * stops (-ESHUTDOWN: close() follows; work posted but not yet run then is dropped). Returns 0;
 * -EAGAIN when the loop's ring is full (called on the loop), -ENOMEM. A ublk device's loop is its
 * first queue's. */
LUNKIT_API int lunkit_device_post(struct lunkit_device* dev, void (*fn)(void* arg), void* arg);

/* A log line, attributed to the device ("user_0/disk0: ..."). level: 0 error .. 3 debug. */
LUNKIT_API void lunkit_log(struct lunkit_device* dev, int level, const char* fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- cfgstring helpers (ABI 2): one set of rules and one error style for every handler ----
 * A cfgstring is elements separated by ';'. An element is `key=value`, or a bare `key` (a flag
 * that is set, or a handler's positional part such as file's path). Empty elements are skipped.
 * Handlers take the first occurrence of a key: lunkit appends lunkit.conf's defaults after a
 * device's own options. Each function returns 0, or -1 after writing a reason a user can act on
 * (NUL-terminated, at most `reason_len` bytes) naming the key and what was given. Any thread. */

/* Calls fn(arg, key, value, reason, reason_len) for each element in order; `value` is NULL for a
 * bare key and "" for "key=". Both are NUL-terminated copies valid during the call (an element of
 * more than 4095 bytes is refused). fn returns 0 to go on, or -1 (with a reason) to stop, and
 * lunkit_cfg_parse() then returns -1. */
typedef int (*lunkit_cfg_fn)(void* arg, const char* key, const char* value, char* reason,
                             size_t reason_len);
LUNKIT_API int lunkit_cfg_parse(const char* cfgstring, lunkit_cfg_fn fn, void* arg, char* reason,
                                size_t reason_len);
/* 1, true, yes, on -> 1; 0, false, no, off -> 0 (case-insensitive); NULL (a bare key) -> 1.
 * Else: "<key> takes 0 or 1 (got '<value>')". */
LUNKIT_API int lunkit_parse_bool(const char* key, const char* value, int* out, char* reason,
                                 size_t reason_len);
/* A decimal number of bytes with an optional suffix K, M, G or T (powers of 1024; either case;
 * an optional "iB" or "B" after it): "4096", "64K", "1GiB". Else: "<key> takes a size in bytes
 * with an optional K, M, G or T suffix (got '<value>')", or "<key> is too large (got ...)". */
LUNKIT_API int lunkit_parse_size(const char* key, const char* value, uint64_t* out, char* reason,
                                 size_t reason_len);

/* Registers the plugin's handler; use once per plugin, at file scope. */
#define LUNKIT_REGISTER_HANDLER(h)                                               \
  LUNKIT_PLUGIN_EXPORT const struct lunkit_handler* lunkit_handler_entry(void) { \
    (h).abi_version = LUNKIT_HANDLER_ABI_VERSION;                                \
    (h).struct_size = (uint32_t)sizeof(struct lunkit_handler);                   \
    return &(h);                                                                 \
  }

/* The symbol lunkitd looks up in each plugin. */
LUNKIT_PLUGIN_EXPORT const struct lunkit_handler* lunkit_handler_entry(void);

#ifdef __cplusplus
}
#endif

#endif /* LUNKIT_HANDLER_H */
