// The cfgstring helpers of the handler ABI (handler.h): one parser for every handler's options.
#include <strings.h>

#include <cctype>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <initializer_list>

#include "lunkit/handler.h"

namespace {

constexpr size_t kMaxElement = 4096;

void say(char* reason, size_t len, const char* fmt, const char* key, const char* value) {
  if (reason && len) std::snprintf(reason, len, fmt, key, value);
}

}  // namespace

extern "C" {

LUNKIT_API int lunkit_cfg_parse(const char* cfgstring, lunkit_cfg_fn fn, void* arg, char* reason,
                                size_t reason_len) {
  if (!cfgstring) return 0;
  char element[kMaxElement];
  for (const char* at = cfgstring; *at;) {
    const char* end = std::strchr(at, ';');
    size_t n = end ? static_cast<size_t>(end - at) : std::strlen(at);
    if (n >= sizeof element) {
      if (reason && reason_len)
        std::snprintf(reason, reason_len, "option '%.32s...' is longer than %zu bytes", at,
                      sizeof element - 1);
      return -1;
    }
    if (n) {
      std::memcpy(element, at, n);
      element[n] = 0;
      char* eq = std::strchr(element, '=');
      const char* value = nullptr;
      if (eq) {
        *eq = 0;
        value = eq + 1;
      }
      if (fn(arg, element, value, reason, reason_len) != 0) return -1;
    }
    at += n;
    if (*at == ';') ++at;
  }
  return 0;
}

LUNKIT_API int lunkit_parse_bool(const char* key, const char* value, int* out, char* reason,
                                 size_t reason_len) {
  if (!value) return *out = 1, 0;
  for (const char* yes : {"1", "true", "yes", "on"})
    if (strcasecmp(value, yes) == 0) return *out = 1, 0;
  for (const char* no : {"0", "false", "no", "off"})
    if (strcasecmp(value, no) == 0) return *out = 0, 0;
  say(reason, reason_len, "%s takes 0 or 1 (got '%s')", key, value);
  return -1;
}

LUNKIT_API int lunkit_parse_size(const char* key, const char* value, uint64_t* out, char* reason,
                                 size_t reason_len) {
  const char* bad = "%s takes a size in bytes with an optional K, M, G or T suffix (got '%s')";
  if (!value || !std::isdigit(static_cast<unsigned char>(value[0]))) {
    say(reason, reason_len, bad, key, value ? value : "");
    return -1;
  }
  uint64_t n = 0;
  const char* p = value;
  for (; std::isdigit(static_cast<unsigned char>(*p)); ++p) {
    unsigned d = static_cast<unsigned>(*p - '0');
    if (n > (UINT64_MAX - d) / 10) {
      say(reason, reason_len, "%s is too large (got '%s')", key, value);
      return -1;
    }
    n = n * 10 + d;
  }
  unsigned shift = 0;
  switch (*p) {
    case 'k':
    case 'K':
      shift = 10;
      break;
    case 'm':
    case 'M':
      shift = 20;
      break;
    case 'g':
    case 'G':
      shift = 30;
      break;
    case 't':
    case 'T':
      shift = 40;
      break;
    default:
      break;
  }
  if (shift) {
    ++p;
    if (*p == 'i' && p[1] == 'B')
      p += 2;
    else if (*p == 'B')
      ++p;
  }
  if (*p) {
    say(reason, reason_len, bad, key, value);
    return -1;
  }
  if (shift && n > (UINT64_MAX >> shift)) {
    say(reason, reason_len, "%s is too large (got '%s')", key, value);
    return -1;
  }
  *out = n << shift;
  return 0;
}

}  // extern "C"
