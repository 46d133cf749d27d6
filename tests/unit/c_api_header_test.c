/* lunkit/tcmu.h is a C header: this file is compiled as C99 with -pedantic, and calls the API
 * through its C declarations (c_api_test runs it). */
#include <errno.h>
#include <string.h>

#include "lunkit/tcmu.h"

int lunkit_c_api_header_check(void);

int lunkit_c_api_header_check(void) {
  struct lunkit_tcmu_options options;
  struct lunkit_tcmu_event event;
  struct lunkit_tcmu_uio uio;
  lunkit_tcmu* tcmu = NULL;
  int rc;
  memset(&options, 0, sizeof options);
  options.size = sizeof options;
  options.sysfs_dir = "/nonexistent/sys";
  options.target_core_dir = "/nonexistent/core";
  options.module_params_dir = "/nonexistent/params";
  options.dev_dir = "/nonexistent/dev";
  rc = lunkit_tcmu_new(&options, &tcmu);
  if (rc != 0) return rc;
  if (lunkit_tcmu_find(tcmu, "ram", &uio, 1) != 0) rc = -EPROTO;
  if (rc == 0 && lunkit_tcmu_attach(tcmu, 0, LUNKIT_TCMU_ATTACH_RESET) != -ENODEV) rc = -EPROTO;
  memset(&event, 0, sizeof event);
  event.size = sizeof event;
  event.cmd = LUNKIT_TCMU_REMOVED_DEVICE;
  event.write_cache = -1;
  if (rc == 0 && lunkit_tcmu_handle_event(tcmu, &event) != 0) rc = -EPROTO;
  if (rc == 0 && lunkit_tcmu_count(tcmu) != 0) rc = -EPROTO;
  lunkit_tcmu_free(tcmu);
  return rc;
}
