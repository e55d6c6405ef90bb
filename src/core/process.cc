#include "core/process.h"

#include <errno.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>

extern char** environ;

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

bool ShellSplit(std::string_view line, std::vector<std::string>* words) {
  words->clear();
  size_t i = 0;
  while (true) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    if (i >= line.size()) return true;
    std::string w;
    while (i < line.size() && line[i] != ' ' && line[i] != '\t') {
      const char c = line[i];
      if (c == '\'') {
        const size_t end = line.find('\'', i + 1);
        if (end == std::string_view::npos) return false;
        w.append(line.substr(i + 1, end - i - 1));
        i = end + 1;
        // '\'' : an escaped quote between two quoted parts.
        if (line.substr(i, 2) == "\\'") {
          w += '\'';
          i += 2;
        }
      } else if (c == '"' || c == '\\' || c == '$' || c == '`' || c == ';' || c == '&' || c == '|' || c == '<' ||
                 c == '>' || c == '(' || c == ')' || c == '*' || c == '?' || c == '[' || c == ']' || c == '{' ||
                 c == '}' || c == '!' || c == '#' || c == '~' || c == '\n') {
        return false;
      } else {
        w += c;
        ++i;
      }
    }
    words->push_back(std::move(w));
  }
}

int RunAndWait(const std::vector<std::string>& argv) {
  if (argv.empty()) return -1;
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = 0;
  if (posix_spawn(&pid, args[0], nullptr, nullptr, args.data(), environ) != 0) return -1;
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return -1;
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

}  // namespace qforge
