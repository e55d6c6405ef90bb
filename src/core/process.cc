#include "core/process.h"

#include <sys/resource.h>

namespace qforge {

int64_t PeakRssBytes() {
  rusage ru{};
  if (getrusage(RUSAGE_SELF, &ru) != 0) return 0;
  return static_cast<int64_t>(ru.ru_maxrss) * 1024;  // Linux: kilobytes
}

std::string ShellQuote(std::string_view arg) {
  if (!arg.empty() && arg.find_first_of(" \t\n'\"$`\\;&|<>()*?[]{}!#~") == std::string_view::npos) return std::string(arg);
  std::string q = "'";
  for (char c : arg) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

}  // namespace qforge
