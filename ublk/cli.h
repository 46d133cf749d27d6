// `lunkit ublk ...`: serve a handler as a plain block device, list, delete and recover devices.
#pragma once

namespace lunkit::ublk {

// argv[0] is "ublk". Returns the process exit status.
int cli_main(int argc, char** argv);

}  // namespace lunkit::ublk
