/* lbapattern: an out-of-tree lunkit handler plugin, built against an installed lunkit with
 * nothing but pkg-config (see Makefile). A read-only LUN whose every block starts with its own
 * LBA (8 bytes, big-endian) followed by a fill byte: handy to check that an initiator, a
 * multipath layer or a copy tool reads the blocks it asked for.
 *
 *   targetcli /backstores/user:lbapattern create pat0 1G fill=165
 */
#include <errno.h>
#include <lunkit/handler.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct pattern {
  uint32_t block_size;
  uint8_t fill;
};

/* cfgstring: empty, or "fill=N" with N a byte value. */
static int parse_fill(const char* cfg, uint8_t* fill, char* reason, size_t reason_len) {
  char* end;
  unsigned long v;
  *fill = 0;
  if (!cfg || !*cfg) return 0;
  if (strncmp(cfg, "fill=", 5) != 0) {
    snprintf(reason, reason_len, "unknown option '%s' (expected fill=N)", cfg);
    return -1;
  }
  errno = 0;
  v = strtoul(cfg + 5, &end, 0);
  if (errno || *end || end == cfg + 5 || v > 255) {
    snprintf(reason, reason_len, "fill must be a byte value (0-255), not '%s'", cfg + 5);
    return -1;
  }
  *fill = (uint8_t)v;
  return 0;
}

static int pattern_check_config(const char* cfg, char* reason, size_t reason_len) {
  uint8_t fill;
  return parse_fill(cfg, &fill, reason, reason_len);
}

static void* pattern_open(struct lunkit_device* dev, const char* cfg,
                          struct lunkit_device_info* info, char* reason, size_t reason_len) {
  struct pattern* p = calloc(1, sizeof(*p));
  (void)dev;
  if (!p) {
    snprintf(reason, reason_len, "out of memory");
    return NULL;
  }
  if (parse_fill(cfg, &p->fill, reason, reason_len) < 0) {
    free(p);
    return NULL;
  }
  p->block_size = info->block_size;
  info->capabilities |= LUNKIT_CAP_READ_ONLY;
  return p;
}

static void pattern_close(void* handle) {
  free(handle);
}

static void pattern_read(void* handle, struct lunkit_io* io, const struct iovec* iov, int iovcnt,
                         uint64_t offset, uint64_t length) {
  const struct pattern* p = handle;
  uint64_t pos = offset; /* byte offset on the LUN of the next byte to fill */
  (void)length;
  for (int i = 0; i < iovcnt; i++) {
    uint8_t* out = iov[i].iov_base;
    for (size_t n = 0; n < iov[i].iov_len; n++, pos++) {
      uint64_t in_block = pos % p->block_size;
      uint64_t lba = pos / p->block_size;
      out[n] = in_block < 8 ? (uint8_t)(lba >> (56 - 8 * in_block)) : p->fill;
    }
  }
  lunkit_io_complete(io, 0);
}

static void pattern_write(void* handle, struct lunkit_io* io, const struct iovec* iov, int iovcnt,
                          uint64_t offset, uint64_t length, uint32_t flags) {
  (void)handle, (void)iov, (void)iovcnt, (void)offset, (void)length, (void)flags;
  lunkit_io_complete(io, -EROFS); /* not reached: lunkit answers WRITE PROTECTED first */
}

static struct lunkit_handler pattern_handler = {
    .subtype = "lbapattern",
    .cfg_desc = "[fill=N]: blocks start with their LBA (big-endian), then the byte N",
    .thread_model = LUNKIT_THREAD_NONBLOCKING,
    .check_config = pattern_check_config,
    .open = pattern_open,
    .close = pattern_close,
    .read = pattern_read,
    .write = pattern_write,
};
LUNKIT_REGISTER_HANDLER(pattern_handler)
