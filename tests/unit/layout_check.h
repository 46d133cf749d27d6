/* The shared half of the UAPI layout tests (tcmu_uapi_test.c, ublk_uapi_test.c): each compares the
 * kernel header's values, by name, with what lunkit's own definitions say (a C++ lookup function
 * that knows lunkit's), and reports one test: the layout matches or it does not. */
#ifndef LUNKIT_TESTS_LAYOUT_CHECK_H
#define LUNKIT_TESTS_LAYOUT_CHECK_H

#include <stdio.h>

static int layout_passed, layout_failed;
static long (*layout_lookup)(const char* name);

static void check(const char* name, long kernel) {
  long ours = layout_lookup(name);
  if (ours == kernel) {
    layout_passed++;
  } else {
    layout_failed++;
    printf("MISMATCH %s: kernel %ld, lunkit %ld\n", name, kernel, ours);
  }
}

static int layout_report(void) {
  printf("%d layout values checked, %d differ\n", layout_passed + layout_failed, layout_failed);
  printf("lunkit-test: %d passed, %d failed\n", layout_failed ? 0 : 1, layout_failed ? 1 : 0);
  return layout_failed ? 1 : 0;
}

#endif
