#include "core/process.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace qforge {
namespace {

TEST(ShellSplit, InvertsShellQuote) {
  const std::vector<std::string> words = {"qforge", "quantize", "dir with space/model", "it's", "", "a'b'c",
                                          "--calib", "x;y", "$HOME", "tab\there", "*.txt", "plain-word_1.0"};
  std::string line;
  for (const std::string& w : words) line += (line.empty() ? "" : " ") + ShellQuote(w);
  std::vector<std::string> back;
  ASSERT_TRUE(ShellSplit(line, &back)) << line;
  EXPECT_EQ(back, words);
}

TEST(ShellSplit, RefusesWhatShellQuoteNeverWrites) {
  std::vector<std::string> w;
  EXPECT_FALSE(ShellSplit("qforge \"double quoted\"", &w));
  EXPECT_FALSE(ShellSplit("qforge 'unterminated", &w));
  EXPECT_FALSE(ShellSplit("qforge $VAR", &w));
  EXPECT_FALSE(ShellSplit("qforge a\\ b", &w));
  EXPECT_FALSE(ShellSplit("qforge a; rm -rf x", &w));
  EXPECT_TRUE(ShellSplit("  qforge   ppl  ", &w));
  EXPECT_EQ(w, (std::vector<std::string>{"qforge", "ppl"}));
}

TEST(RunAndWait, ReportsExitStatusAndSignals) {
  EXPECT_EQ(RunAndWait({"/bin/sh", "-c", "exit 3"}), 3);
  EXPECT_EQ(RunAndWait({"/bin/sh", "-c", "kill -9 $$"}), 128 + 9);
  EXPECT_EQ(RunAndWait({"/no/such/program"}), -1);  // glibc reports the failed exec from posix_spawn
}

}  // namespace
}  // namespace qforge
