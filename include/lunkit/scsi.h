/* lunkit-scsi: lunkit's SCSI emulation (SPC-5 / SBC-4 direct-access block device) for any
 * transport, in C. A `lunkit_scsi_lu` executes the CDBs a transport receives (iSCSI, vhost,
 * a ring of one's own...) against the caller's asynchronous block callbacks and answers each
 * with a SCSI status, sense data and Data-In, exactly as lunkitd answers the kernel's TCMU
 * commands (it is the same code). See lunkit-scsi(3).
 *
 * Conventions: opaque handles; functions return 0 on success and a negative errno on failure,
 * and lunkit_scsi_last_error() explains the calling thread's last failure in one line. No C++
 * exception crosses this interface. Structs that may grow start with their size.
 *
 * Threads: lunkit_scsi_submit() and the lunkit_scsi_lu_set_*() and reset functions are called
 * from one thread at a time (the transport's loop). The block callbacks run on the thread that
 * submitted, or inside an earlier completion; each completes its request exactly once, with
 * lunkit_scsi_io_complete(), from any thread, now or later. A command's completion function runs
 * on the thread that completed its last request (or the submitting thread).
 */
#ifndef LUNKIT_SCSI_H
#define LUNKIT_SCSI_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "lunkit/visibility.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct lunkit_scsi_lu lunkit_scsi_lu;
typedef struct lunkit_scsi_cmd lunkit_scsi_cmd;
typedef struct lunkit_scsi_io lunkit_scsi_io; /* one block request of a command */

/* lunkit_scsi_device capabilities. */
#define LUNKIT_SCSI_CAP_THIN (1u << 0)         /* unmap() deallocates: LBPME, UNMAP, WRITE SAME */
#define LUNKIT_SCSI_CAP_UNMAP_ZEROES (1u << 1) /* deallocated blocks read as zeros (LBPRZ) */
#define LUNKIT_SCSI_CAP_WRITE_CACHE (1u << 2)  /* a volatile cache: WCE on, flush() needed */
#define LUNKIT_SCSI_CAP_FUA (1u << 3)          /* write() honours LUNKIT_SCSI_IO_FUA itself */
#define LUNKIT_SCSI_CAP_ROTATIONAL (1u << 4)
#define LUNKIT_SCSI_CAP_READ_ONLY (1u << 5)

/* Flags on a request. */
#define LUNKIT_SCSI_IO_FUA (1u << 0)       /* write, write_zeroes: durable before completion */
#define LUNKIT_SCSI_IO_MAY_UNMAP (1u << 1) /* write_zeroes: the range may be deallocated */

/* The storage a logical unit runs on. Offsets and lengths are bytes, multiples of the logical
 * block size. Zeroed fields take the defaults given. */
struct lunkit_scsi_device {
  size_t size;                  /* sizeof(struct lunkit_scsi_device) */
  uint64_t num_blocks;          /* required */
  uint32_t logical_block_size;  /* 0: 512 */
  uint32_t physical_block_size; /* 0: the logical block size; else a power-of-two multiple */
  uint32_t capabilities;        /* LUNKIT_SCSI_CAP_* */
  /* Block Limits (VPD 0xB0). max_transfer_blocks: what initiators are told to send at most (0:
   * no preference). max_request_blocks: the longest request the callbacks get; longer commands
   * are split (0: no limit). unmap_granularity_blocks (0: 1) and unmap_alignment_blocks. */
  uint32_t max_transfer_blocks;
  uint32_t max_request_blocks;
  uint32_t unmap_granularity_blocks;
  uint32_t unmap_alignment_blocks;
  /* Identity (NULL: lunkit's): up to 8, 16 and 4 ASCII characters; the unit serial (VPD 0x80)
   * is also the base of the NAA designator (VPD 0x83) unless naa_wwn is set. */
  const char* vendor;
  const char* product;
  const char* revision;
  const char* unit_serial;
  uint64_t naa_wwn;

  void* context; /* the first argument of every callback */
  /* Required. read: fill `iov` with `length` bytes from `offset`. */
  void (*read)(void* context, lunkit_scsi_io* io, uint64_t offset, uint64_t length,
               const struct iovec* iov, int iovcnt);
  /* Required. flags: LUNKIT_SCSI_IO_FUA (only with LUNKIT_SCSI_CAP_FUA; without it lunkit
   * follows a write that must be durable with flush()). */
  void (*write)(void* context, lunkit_scsi_io* io, uint64_t offset, uint64_t length,
                const struct iovec* iov, int iovcnt, uint32_t flags);
  /* Required: the range reads as zeros afterwards (WRITE SAME of zeros, UNMAP's fallback).
   * flags: LUNKIT_SCSI_IO_MAY_UNMAP, LUNKIT_SCSI_IO_FUA. */
  void (*write_zeroes)(void* context, lunkit_scsi_io* io, uint64_t offset, uint64_t length,
                       uint32_t flags);
  /* Makes every completed write durable. NULL: completes at once (right for storage without
   * a volatile cache; with LUNKIT_SCSI_CAP_WRITE_CACHE it is required). */
  void (*flush)(void* context, lunkit_scsi_io* io);
  /* Deallocates the range. Required with LUNKIT_SCSI_CAP_THIN, never called without it. */
  void (*unmap)(void* context, lunkit_scsi_io* io, uint64_t offset, uint64_t length);
};

/* Completes a request: 0, or a negative errno that becomes the command's answer: transient
 * errors (-EAGAIN, -EBUSY, -ETIMEDOUT, -ENOTCONN, -ECONNRESET, -ESHUTDOWN, -EINTR) BUSY and
 * -ENOMEM TASK SET FULL, so that the initiator retries; -ENOSPC and -EDQUOT SPACE ALLOCATION
 * FAILED WRITE PROTECT; -EROFS WRITE PROTECTED; -ENXIO and -ENODEV LOGICAL UNIT COMMUNICATION
 * FAILURE; anything else a MEDIUM ERROR (UNRECOVERED READ ERROR or WRITE ERROR, with the LBA).
 * Exactly once per request, from any thread. */
LUNKIT_API void lunkit_scsi_io_complete(lunkit_scsi_io* io, int result);

/* Called once per submitted command when it is done, with the context given to
 * lunkit_scsi_lu_new(). The command may be submitted again from inside the call. */
typedef void (*lunkit_scsi_done_fn)(void* context, lunkit_scsi_cmd* cmd);

/* A logical unit over `device` (copied; its context and callbacks must outlive the unit).
 * -EINVAL with a reason: a bad size, no read/write/write_zeroes, CAP_THIN without unmap(),
 * CAP_WRITE_CACHE without flush(), a bad block size, no blocks. */
LUNKIT_API int lunkit_scsi_lu_new(const struct lunkit_scsi_device* device, lunkit_scsi_done_fn done,
                                  void* done_context, lunkit_scsi_lu** out);
/* Frees a unit with no command in flight (-EBUSY otherwise, and nothing is freed). A command is
 * in flight from lunkit_scsi_submit() until its done function has returned. NULL: 0. */
LUNKIT_API int lunkit_scsi_lu_free(lunkit_scsi_lu* lu);

/* The calling thread's explanation of its last failure ("" if none). */
LUNKIT_API const char* lunkit_scsi_last_error(void);

/* Commands are allocated once and reused: submitting allocates nothing (except for the few
 * slow-path commands that need a bounce buffer: VERIFY, COMPARE AND WRITE, WRITE SAME). */
LUNKIT_API int lunkit_scsi_cmd_new(lunkit_scsi_cmd** out);
/* Frees a command that is not in flight. NULL is ignored. */
LUNKIT_API void lunkit_scsi_cmd_free(lunkit_scsi_cmd* cmd);

/* The direction of a command's data as the transport saw the initiator ask for it. UNKNOWN
 * (TCMU's case) trusts the CDB; otherwise a CDB that moves data the other way is rejected. */
#define LUNKIT_SCSI_DIR_UNKNOWN 0
#define LUNKIT_SCSI_DIR_NONE 1
#define LUNKIT_SCSI_DIR_IN 2  /* Data-In: the command fills the buffer */
#define LUNKIT_SCSI_DIR_OUT 3 /* Data-Out: the command consumes it */

/* Executes the CDB (1 to 32 bytes) with the buffer `iov`, which stays valid until the command
 * completes; lunkit may adjust its entries in place meanwhile and restores them before. `user`
 * is for the caller (lunkit_scsi_cmd_user()). Every accepted command completes exactly once
 * through the unit's done function (also commands that fail: CHECK CONDITION with sense).
 * -EINVAL (and no completion): a bad CDB length, a negative iovcnt or a command in flight. */
LUNKIT_API int lunkit_scsi_submit(lunkit_scsi_lu* lu, lunkit_scsi_cmd* cmd, const uint8_t* cdb,
                                  size_t cdb_len, struct iovec* iov, int iovcnt, int direction,
                                  void* user);

/* A completed command: its SCSI status (0x00 GOOD, 0x02 CHECK CONDITION, 0x08 BUSY...), its
 * sense data (fixed format; *len 0 without CHECK CONDITION), the bytes of Data-In it produced
 * (a residual is the buffer's length minus these), and the caller's pointer. */
LUNKIT_API uint8_t lunkit_scsi_cmd_status(const lunkit_scsi_cmd* cmd);
LUNKIT_API const uint8_t* lunkit_scsi_cmd_sense(const lunkit_scsi_cmd* cmd, size_t* len);
LUNKIT_API size_t lunkit_scsi_cmd_data_in(const lunkit_scsi_cmd* cmd);
LUNKIT_API void* lunkit_scsi_cmd_user(const lunkit_scsi_cmd* cmd);

/* The storage changed size: READ CAPACITY reports it, CAPACITY DATA HAS CHANGED is raised. */
LUNKIT_API void lunkit_scsi_lu_set_capacity(lunkit_scsi_lu* lu, uint64_t num_blocks);
/* The write cache was switched outside SCSI: MODE PARAMETERS CHANGED. */
LUNKIT_API void lunkit_scsi_lu_set_write_cache(lunkit_scsi_lu* lu, int enabled);
/* LOGICAL UNIT RESET from task management (the transport reports the unit attention). */
LUNKIT_API void lunkit_scsi_lu_reset(lunkit_scsi_lu* lu);
/* The current capacity in blocks, and the commands in flight; any thread. */
LUNKIT_API uint64_t lunkit_scsi_lu_capacity(const lunkit_scsi_lu* lu);
LUNKIT_API uint64_t lunkit_scsi_lu_in_flight(const lunkit_scsi_lu* lu);

#ifdef __cplusplus
}
#endif

#endif /* LUNKIT_SCSI_H */
