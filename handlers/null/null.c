/* user:null — reads zeros, discards writes. For measuring lunkit's own overhead; also the
 * example of a handler written against the plain C ABI. */
#include <lunkit/handler.h>
#include <stdio.h>
#include <string.h>

static int null_check_config(const char *cfgstring, char *reason, size_t reason_len) {
  if (cfgstring[0] == '\0') return 0;
  snprintf(reason, reason_len, "null takes no configuration (got '%s')", cfgstring);
  return -1;
}

static int null_handle; /* every device shares it: there is no state */

static void *null_open(struct lunkit_device *dev, const char *cfgstring,
                       struct lunkit_device_info *info, char *reason, size_t reason_len) {
  (void)dev;
  if (null_check_config(cfgstring, reason, reason_len) != 0) return NULL;
  /* The size and block size the kernel was given stay as they are. */
  info->capabilities = LUNKIT_CAP_FUA | LUNKIT_CAP_THIN | LUNKIT_CAP_UNMAP_ZEROES;
  return &null_handle;
}

static void null_close(void *handle) { (void)handle; }

static void null_read(void *handle, struct lunkit_io *io, const struct iovec *iov, int iovcnt,
                      uint64_t offset, uint64_t length) {
  (void)handle, (void)offset, (void)length;
  for (int i = 0; i < iovcnt; i++) memset(iov[i].iov_base, 0, iov[i].iov_len);
  lunkit_io_complete(io, 0);
}

static void null_write(void *handle, struct lunkit_io *io, const struct iovec *iov, int iovcnt,
                       uint64_t offset, uint64_t length, uint32_t flags) {
  (void)handle, (void)iov, (void)iovcnt, (void)offset, (void)length, (void)flags;
  lunkit_io_complete(io, 0);
}

static void null_discard(void *handle, struct lunkit_io *io, uint64_t offset, uint64_t length) {
  (void)handle, (void)offset, (void)length;
  lunkit_io_complete(io, 0);
}

static void null_write_zeroes(void *handle, struct lunkit_io *io, uint64_t offset,
                              uint64_t length, uint32_t flags) {
  (void)flags;
  null_discard(handle, io, offset, length);
}

static struct lunkit_handler null_handler = {
    .subtype = "null",
    .cfg_desc = "No configuration: reads return zeros, writes are discarded.",
    .thread_model = LUNKIT_THREAD_NONBLOCKING,
    .check_config = null_check_config,
    .open = null_open,
    .close = null_close,
    .read = null_read,
    .write = null_write,
    .unmap = null_discard,
    .write_zeroes = null_write_zeroes,
    .flags = LUNKIT_HANDLER_MULTI_QUEUE, /* stateless: any number of loops at once */
};

LUNKIT_REGISTER_HANDLER(null_handler)
