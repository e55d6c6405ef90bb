// qforge-manifest.json of an artifact (verify and reproduce read strangers' manifests), then the check
// of the files it lists against a directory that holds one small file.
#include "artifact/manifest.h"
#include "fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace qforge;
  const auto dir = fuzz::ScratchDir() / "artifact";
  static const bool once = [&] {
    fuzz::WriteScratch("artifact/config.json", "{}\n");
    return true;
  }();
  (void)once;
  fuzz::WriteScratch(std::string("artifact/") + artifact::kManifestName, {reinterpret_cast<const char*>(data), size});
  const auto paths = artifact::PathsFor(dir, true);
  auto m = artifact::ReadManifest(paths);
  if (m.ok()) (void)artifact::CheckFiles(paths, *m);
  return 0;
}
