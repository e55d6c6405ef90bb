// Process-level helpers shared by the layers that report on a run: the peak resident memory, and
// command lines written into reports and checkpoints in a form a shell can re-run.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace qforge {

// getrusage(RUSAGE_SELF).ru_maxrss in bytes: the process's high-water mark so far (0 on failure).
int64_t PeakRssBytes();

// `arg` as one POSIX shell word: unchanged when it holds only characters the shell takes literally,
// else in single quotes (an embedded ' written as '\'').
std::string ShellQuote(std::string_view arg);

// The words of a command line written by ShellQuote (plain words separated by blanks, single-quoted
// words, '\'' inside them); false on anything else (double quotes, backslashes outside quotes,
// variables, an unterminated quote), so that a recorded command is never half-understood.
bool ShellSplit(std::string_view line, std::vector<std::string>* words);

// Runs argv[0] (a path, not searched in PATH) with the given arguments, stdin/stdout/stderr inherited,
// and waits for it. Returns its exit status, 128 + the signal when a signal ended it, or -1 when it
// could not be started.
int RunAndWait(const std::vector<std::string>& argv);

}  // namespace qforge
