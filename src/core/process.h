// Process-level helpers shared by the layers that report on a run: the peak resident memory, and
// command lines written into reports and checkpoints in a form a shell can re-run.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace qforge {

// getrusage(RUSAGE_SELF).ru_maxrss in bytes: the process's high-water mark so far (0 on failure).
int64_t PeakRssBytes();

// `arg` as one POSIX shell word: unchanged when it holds only characters the shell takes literally,
// else in single quotes (an embedded ' written as '\'').
std::string ShellQuote(std::string_view arg);

}  // namespace qforge
