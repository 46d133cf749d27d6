/* lunkit/scsi.h is a C header: this file is compiled as C99 with -pedantic and runs a logical
 * unit through the C declarations alone (scsi_c_api_test calls it): INQUIRY under the power-on
 * unit attention, then TEST UNIT READY twice. */
#include <errno.h>
#include <string.h>

#include "lunkit/scsi.h"

int lunkit_scsi_c_header_check(void);

static unsigned char disk[64 * 512];

static void disk_read(void* ctx, lunkit_scsi_io* io, uint64_t off, uint64_t len,
                      const struct iovec* iov, int n) {
  (void)ctx, (void)len, (void)n;
  memcpy(iov[0].iov_base, disk + off, iov[0].iov_len);
  lunkit_scsi_io_complete(io, 0);
}
static void disk_write(void* ctx, lunkit_scsi_io* io, uint64_t off, uint64_t len,
                       const struct iovec* iov, int n, uint32_t flags) {
  (void)ctx, (void)len, (void)n, (void)flags;
  memcpy(disk + off, iov[0].iov_base, iov[0].iov_len);
  lunkit_scsi_io_complete(io, 0);
}
static void disk_zero(void* ctx, lunkit_scsi_io* io, uint64_t off, uint64_t len, uint32_t flags) {
  (void)ctx, (void)flags;
  memset(disk + off, 0, len);
  lunkit_scsi_io_complete(io, 0);
}
static void count_done(void* ctx, lunkit_scsi_cmd* cmd) {
  (void)cmd;
  ++*(int*)ctx;
}

int lunkit_scsi_c_header_check(void) {
  static const uint8_t inquiry[6] = {0x12, 0, 0, 0, 36, 0}, tur[6] = {0};
  struct lunkit_scsi_device dev;
  lunkit_scsi_lu* lu = NULL;
  lunkit_scsi_cmd* cmd = NULL;
  unsigned char answer[36];
  struct iovec iov;
  int done = 0, rc;
  size_t sense_len = 0;

  memset(&dev, 0, sizeof dev);
  dev.size = sizeof dev;
  dev.num_blocks = 64;
  dev.read = disk_read;
  dev.write = disk_write;
  dev.write_zeroes = disk_zero;
  rc = lunkit_scsi_lu_new(&dev, count_done, &done, &lu);
  if (rc == 0) rc = lunkit_scsi_cmd_new(&cmd);
  iov.iov_base = answer;
  iov.iov_len = sizeof answer;
  if (rc == 0) rc = lunkit_scsi_submit(lu, cmd, inquiry, 6, &iov, 1, LUNKIT_SCSI_DIR_IN, NULL);
  if (rc == 0 && (done != 1 || lunkit_scsi_cmd_status(cmd) != 0 ||
                  lunkit_scsi_cmd_data_in(cmd) != 36 || answer[0] != 0))
    rc = -EPROTO;
  if (rc == 0) rc = lunkit_scsi_submit(lu, cmd, tur, 6, NULL, 0, LUNKIT_SCSI_DIR_NONE, NULL);
  lunkit_scsi_cmd_sense(cmd, &sense_len);
  if (rc == 0 && (lunkit_scsi_cmd_status(cmd) != 0x02 || sense_len < 14)) rc = -EPROTO;
  if (rc == 0) rc = lunkit_scsi_submit(lu, cmd, tur, 6, NULL, 0, LUNKIT_SCSI_DIR_NONE, NULL);
  if (rc == 0 && (done != 3 || lunkit_scsi_cmd_status(cmd) != 0)) rc = -EPROTO;
  lunkit_scsi_cmd_free(cmd);
  if (lunkit_scsi_lu_free(lu) != 0 && rc == 0) rc = -EPROTO;
  return rc;
}
