// The fuzz targets without libFuzzer: a main() that feeds LLVMFuzzerTestOneInput every file named on
// the command line (directories: every regular file in them, sorted), and, with --mutants N, N
// deterministic corruptions of each (truncations, flipped bits, overwritten runs, spliced huge
// integers) drawn from a fixed-seed generator. Built into the ordinary test presets (gcc, and in the
// debug preset under AddressSanitizer + UndefinedBehaviorSanitizer), so CI replays the committed crash
// inputs and a corruption sweep of real files on every run; scripts/fuzz.sh does the open-ended
// coverage-guided search with clang's libFuzzer.
//   fuzz_TARGET_replay [--mutants N] [--seed S] FILE_OR_DIR...
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <utility>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);
// In the sanitizer runtimes (weak: absent from a plain build).
extern "C" void __sanitizer_set_death_callback(void (*callback)(void)) __attribute__((weak));

namespace {

// What is running now, so that a sanitizer report leaves the input behind to reproduce it.
const std::vector<uint8_t>* g_current = nullptr;
std::string g_current_name;

void SaveCurrentInput() {
  if (g_current == nullptr) return;
  const std::string out = "fuzz-replay-crash.bin";
  if (std::FILE* f = std::fopen(out.c_str(), "wb")) {
    std::fwrite(g_current->data(), 1, g_current->size(), f);
    std::fclose(f);
    std::fprintf(stderr, "replay: the failing input (%s) is saved as %s\n", g_current_name.c_str(), out.c_str());
  }
}

uint64_t Fnv1a(const std::string& s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return h;
}

void Run(const std::vector<uint8_t>& bytes, std::string name) {
  g_current = &bytes;
  g_current_name = std::move(name);
  LLVMFuzzerTestOneInput(bytes.data(), bytes.size());
  g_current = nullptr;
}

std::vector<uint8_t> ReadAll(const std::filesystem::path& p) {
  std::ifstream f(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

// One corruption of `in`; which kind and where come from `rng` only.
std::vector<uint8_t> Mutate(const std::vector<uint8_t>& in, std::mt19937_64& rng) {
  std::vector<uint8_t> out = in;
  if (out.empty()) return {0};
  auto pick = [&](size_t n) { return static_cast<size_t>(rng() % std::max<size_t>(n, 1)); };
  // Headers hold the interesting fields: bias positions toward the first 4 KiB half the time.
  auto pos = [&] { return (rng() & 1) ? pick(std::min<size_t>(out.size(), 4096)) : pick(out.size()); };
  switch (rng() % 6) {
    case 0:  // truncate
      out.resize(pick(out.size()));
      break;
    case 1:  // flip 1-8 bits
      for (int i = 0, n = 1 + static_cast<int>(rng() % 8); i < n; ++i) out[pos()] ^= static_cast<uint8_t>(1u << (rng() % 8));
      break;
    case 2: {  // overwrite a run with 0x00 or 0xff
      const size_t at = pos(), len = 1 + pick(16);
      const uint8_t v = (rng() & 1) ? 0xff : 0x00;
      for (size_t i = at; i < std::min(out.size(), at + len); ++i) out[i] = v;
      break;
    }
    case 3: {  // splice a huge or boundary little-endian integer (a length, count, offset or dim)
      static const uint64_t kValues[] = {0, 1, 0x7f, 0x80, 0xff, 0xffff, 0x7fffffff, 0x80000000, 0xffffffff,
                                         0x100000000ull, 0x7fffffffffffffffull, 0xffffffffffffffffull};
      const uint64_t v = kValues[rng() % std::size(kValues)];
      const size_t at = pos(), width = (rng() & 1) ? 8 : 4;
      for (size_t i = 0; i < width && at + i < out.size(); ++i) out[at + i] = static_cast<uint8_t>(v >> (8 * i));
      break;
    }
    case 4: {  // duplicate a chunk in place (repeated keys, shifted offsets)
      const size_t at = pos(), len = 1 + pick(64);
      const size_t end = std::min(out.size(), at + len);
      std::vector<uint8_t> chunk(out.begin() + static_cast<std::ptrdiff_t>(at), out.begin() + static_cast<std::ptrdiff_t>(end));
      out.insert(out.begin() + static_cast<std::ptrdiff_t>(at), chunk.begin(), chunk.end());
      break;
    }
    default: {  // delete a chunk
      const size_t at = pos(), len = 1 + pick(64);
      out.erase(out.begin() + static_cast<std::ptrdiff_t>(at),
                out.begin() + static_cast<std::ptrdiff_t>(std::min(out.size(), at + len)));
      break;
    }
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  long mutants = 0;
  uint64_t seed = 1;
  std::vector<std::filesystem::path> files;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if ((a == "--mutants" || a == "--seed") && i + 1 < argc) {
      char* end = nullptr;
      const unsigned long long v = std::strtoull(argv[++i], &end, 10);
      if (*end != '\0') {
        std::fprintf(stderr, "%s: %s wants a number, got '%s'\n", argv[0], a.c_str(), argv[i]);
        return 2;
      }
      (a == "--mutants" ? mutants = static_cast<long>(v) : (seed = v, 0));
      continue;
    }
    std::error_code ec;
    if (std::filesystem::is_directory(a, ec)) {
      std::vector<std::filesystem::path> in_dir;
      for (const auto& e : std::filesystem::directory_iterator(a))
        if (e.is_regular_file()) in_dir.push_back(e.path());
      std::sort(in_dir.begin(), in_dir.end());
      files.insert(files.end(), in_dir.begin(), in_dir.end());
    } else if (std::filesystem::is_regular_file(a, ec)) {
      files.emplace_back(a);
    } else {
      std::fprintf(stderr, "%s: no such file or directory: %s\n", argv[0], a.c_str());
      return 2;
    }
  }
  if (files.empty()) {
    std::fprintf(stderr, "usage: %s [--mutants N] [--seed S] FILE_OR_DIR...\n", argv[0]);
    return 2;
  }
  if (__sanitizer_set_death_callback != nullptr) __sanitizer_set_death_callback(SaveCurrentInput);
  long runs = 0;
  for (const auto& f : files) {
    const std::vector<uint8_t> bytes = ReadAll(f);
    std::fprintf(stderr, "replay %s (%zu bytes, %ld mutants)\n", f.c_str(), bytes.size(), mutants);
    Run(bytes, f.string());
    ++runs;
    std::mt19937_64 rng(seed ^ Fnv1a(f.filename().string()));
    for (long m = 0; m < mutants; ++m) {
      std::vector<uint8_t> mutated = Mutate(bytes, rng);
      // Stacked corruptions now and then: several small faults in one file.
      for (int extra = static_cast<int>(rng() % 4); extra > 1; --extra) mutated = Mutate(mutated, rng);
      Run(mutated, f.string() + " mutant " + std::to_string(m));
      ++runs;
    }
  }
  std::printf("%ld inputs ran without a crash\n", runs);
  return 0;
}
