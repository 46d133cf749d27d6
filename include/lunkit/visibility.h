/* Symbol visibility for lunkit's public interfaces.
 *
 * lunkit's libraries are built with -fvisibility=hidden and a version script: only what a public
 * header marks LUNKIT_API is exported from liblunkit-scsi, liblunkit-tcmu and the plugin host.
 * LUNKIT_PLUGIN_EXPORT marks the one symbol a handler plugin exports (its entry point), so a plugin
 * built with -fvisibility=hidden still has it. */
#ifndef LUNKIT_VISIBILITY_H
#define LUNKIT_VISIBILITY_H

#if defined(__GNUC__) || defined(__clang__)
#define LUNKIT_API __attribute__((visibility("default")))
#else
#define LUNKIT_API
#endif

#define LUNKIT_PLUGIN_EXPORT LUNKIT_API

#endif /* LUNKIT_VISIBILITY_H */
