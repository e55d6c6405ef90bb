// Trusting artifacts (artifact/): qforge keygen, sign, verify, reproduce and sbom.
//   keygen --key KEY --pubkey PUB        Ed25519 key pair in PEM
//   sign ARTIFACT --key KEY [--sig SIG]  detached signature over the manifest (after checking every file)
//   verify ARTIFACT [--pubkey PUB] [--sig SIG]  signature and every file's SHA-256; names the first problem
//   reproduce ARTIFACT [--threads N]     re-runs the recorded command and compares every file
//   sbom ARTIFACT --eval REPORT -o OUT   the artifact's SBOM with measured figures from an eval report
// Exit status: 0 success, 1 a verification or reproduction that failed, 2 bad input.
#include <unistd.h>

#include <fstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "artifact/manifest.h"
#include "artifact/reproduce.h"
#include "artifact/sbom.h"
#include "artifact/signing.h"
#include "cli/command.h"
#include "eval/eval.h"
#include "io/mapped_file.h"

namespace qforge::cli {
namespace {

namespace fs = std::filesystem;

struct ArtifactArgs {
  std::string artifact, key, pubkey, sig, eval, out, work_dir;
  int threads = 0;
  bool json = false, keep = false;
};

fs::path SignaturePath(const artifact::ArtifactPaths& p, const std::string& sig) { return sig.empty() ? p.signature : fs::path(sig); }

int RunKeygen(const CLI::App& app, const ArtifactArgs& a) {
  auto keys = artifact::GenerateKeyPair();
  if (!keys.ok()) return ReportError(app, keys.error());
  if (Status s = artifact::WriteKeyPair(*keys, a.key, a.pubkey); !s.ok()) return ReportError(app, s.error());
  auto fp = artifact::PublicKeyFingerprint(a.pubkey);
  if (!fp.ok()) return ReportError(app, fp.error());
  fmt::print("private key {} (mode 0600), public key {}\nfingerprint sha256:{}\n", a.key, a.pubkey, *fp);
  return 0;
}

int RunSign(const CLI::App& app, const ArtifactArgs& a) {
  auto paths = artifact::LocateArtifact(a.artifact);
  if (!paths.ok()) return ReportError(app, paths.error());
  auto m = artifact::ReadManifest(*paths);
  if (!m.ok()) return ReportError(app, m.error());
  // Never sign an artifact that does not match its manifest.
  auto diffs = artifact::CheckFiles(*paths, *m);
  if (!diffs.ok()) return ReportError(app, diffs.error());
  if (!diffs->empty()) return ReportError(app, Error{fmt::format("not signed: {}", artifact::Describe((*diffs)[0]))});
  auto sig = artifact::Sign(a.key, m->bytes);
  if (!sig.ok()) return ReportError(app, sig.error());
  const fs::path out = SignaturePath(*paths, a.sig);
  if (Status s = artifact::WriteFileAtomic(out, *sig, fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read | fs::perms::others_read, true);
      !s.ok()) {
    return ReportError(app, s.error());
  }
  fmt::print("signed {} ({} files, {}): {}\n", paths->manifest.string(), m->files.size(),
             artifact::StringField(m->json["artifact"], "content_digest"), out.string());
  return 0;
}

int RunVerify(const CLI::App& app, const ArtifactArgs& a) {
  auto paths = artifact::LocateArtifact(a.artifact);
  if (!paths.ok()) return ReportError(app, paths.error());
  nlohmann::json out = {{"artifact", a.artifact}, {"manifest", paths->manifest.string()}};
  auto fail = [&](const std::string& first) {
    out["verified"] = false;
    if (a.json) fmt::print("{}\n", out.dump(2));
    fmt::print(stderr, "qforge verify: FAILED: {}\n", first);
    return 1;
  };
  // The signature covers the manifest's exact bytes: checked before the manifest is even parsed, so a
  // tampered manifest is a failed verification, not a parse error.
  if (!a.pubkey.empty()) {
    auto bytes = artifact::ReadSmallFile(paths->manifest, 256 << 20);
    if (!bytes.ok()) return ReportError(app, bytes.error());
    const fs::path sig_path = SignaturePath(*paths, a.sig);
    auto sig = artifact::ReadSmallFile(sig_path, 4096);
    if (!sig.ok()) return ReportError(app, Error{fmt::format("{} (the signature to verify)", sig.error().message)});
    auto good = artifact::Verify(a.pubkey, *bytes, *sig);
    if (!good.ok()) return ReportError(app, good.error());
    out["signature"] = *good ? "good" : "bad";
    if (!*good) {
      return fail(fmt::format("{}: the signature does not match {} under {}", sig_path.string(), paths->manifest.string(), a.pubkey));
    }
  } else {
    out["signature"] = "not checked (no --pubkey)";
  }
  auto m = artifact::ReadManifest(*paths);
  if (!m.ok()) return ReportError(app, m.error());
  out["files"] = m->files.size();
  auto diffs = artifact::CheckFiles(*paths, *m);
  if (!diffs.ok()) return ReportError(app, diffs.error());
  nlohmann::json problems = nlohmann::json::array();
  for (const auto& d : *diffs) problems.push_back(artifact::Describe(d));
  out["problems"] = problems;
  if (!diffs->empty()) {
    if (!a.json) {
      for (const auto& p : problems) fmt::print("{}\n", p.get<std::string>());
    }
    return fail(artifact::Describe((*diffs)[0]));
  }
  out["verified"] = true;
  if (a.json) {
    fmt::print("{}\n", out.dump(2));
  } else {
    fmt::print("verified {}: {} files match the manifest ({}), signature {}\n", a.artifact, m->files.size(),
               artifact::StringField(m->json["artifact"], "content_digest"), out["signature"].get<std::string>());
  }
  return 0;
}

int RunReproduce(const CLI::App& app, const ArtifactArgs& a) {
  artifact::ReproduceOptions o;
  std::error_code ec;
  o.qforge = fs::read_symlink("/proc/self/exe", ec);
  if (ec) return ReportError(app, Error{"cannot find this qforge executable (/proc/self/exe)"});
  o.threads = a.threads;
  o.work_dir = a.work_dir;
  o.keep = a.keep;
  auto r = artifact::Reproduce(a.artifact, o);
  if (!r.ok()) return ReportError(app, r.error());
  if (a.json) {
    fmt::print("{}\n", r->ToJson().dump(2));
  } else {
    fmt::print("re-ran: {}\n", r->command);
    if (r->exit_status != 0) {
      fmt::print("the re-run failed with exit status {}\n", r->exit_status);
    } else {
      for (const auto& d : r->differences) fmt::print("{}\n", artifact::Describe(d));
      fmt::print("{} of {} files byte-identical; manifest {}\n", r->identical.size(), r->identical.size() + r->differences.size(),
                 r->manifest_identical ? "identical" : (r->manifest_note.empty() ? "differs" : r->manifest_note));
    }
    if (!r->kept.empty()) fmt::print("kept the re-run's output: {}\n", r->kept.string());
  }
  if (!r->reproduced()) {
    fmt::print(stderr, "qforge reproduce: NOT reproduced\n");
    return 1;
  }
  fmt::print("reproduced\n");
  return 0;
}

int RunSbom(const CLI::App& app, const ArtifactArgs& a) {
  auto report_bytes = artifact::ReadSmallFile(a.eval, 64 << 20);
  if (!report_bytes.ok()) return ReportError(app, report_bytes.error());
  nlohmann::json report = nlohmann::json::parse(*report_bytes, nullptr, false);
  if (report.is_object() && report.contains("eval") && report["eval"].is_object()) report = report["eval"];  // a compare row
  auto metrics = eval::SbomMetrics(report);
  if (!metrics.ok()) return ReportError(app, Error{fmt::format("{}: {}", a.eval, metrics.error().message)});
  auto sbom = artifact::SbomWithMetrics(a.artifact, *metrics);
  if (!sbom.ok()) return ReportError(app, sbom.error());
  if (Status s = io::WriteFileAtomically(a.out, sbom->dump(2) + "\n"); !s.ok()) return ReportError(app, s.error());
  fmt::print("wrote {} ({} measured figures from {})\n", a.out, metrics->size(), a.eval);
  return 0;
}

}  // namespace

void AddArtifactCommands(CLI::App& parent, std::vector<Command>* commands) {
  auto a = std::make_shared<ArtifactArgs>();
  Command keygen{parent.add_subcommand("keygen", "Make an Ed25519 key pair (PEM) for signing artifacts"), nullptr};
  keygen.app->add_option("--key", a->key, "Private key file to write (PKCS#8 PEM, mode 0600)")->required();
  keygen.app->add_option("--pubkey", a->pubkey, "Public key file to write (PEM)")->required();
  keygen.run = [app = keygen.app, a] { return RunKeygen(*app, *a); };
  commands->push_back(keygen);

  Command sign{parent.add_subcommand("sign", "Sign an artifact's manifest (Ed25519, detached signature)"), nullptr};
  sign.app->add_option("artifact", a->artifact, "Artifact directory (or file) written by qforge")->required();
  sign.app->add_option("--key", a->key, "Private key (PEM)")->required();
  sign.app->add_option("--sig", a->sig, "Signature file to write (default: qforge-manifest.sig in the artifact)");
  sign.run = [app = sign.app, a] { return RunSign(*app, *a); };
  commands->push_back(sign);

  Command verify{parent.add_subcommand("verify", "Check an artifact's signature and every file against its manifest"), nullptr};
  verify.app->add_option("artifact", a->artifact, "Artifact directory (or file)")->required();
  verify.app->add_option("--pubkey", a->pubkey, "Public key (PEM); without it only the files are checked");
  verify.app->add_option("--sig", a->sig, "Signature file (default: qforge-manifest.sig in the artifact)");
  verify.app->add_flag("--json", a->json, "Print the result as JSON");
  verify.run = [app = verify.app, a] { return RunVerify(*app, *a); };
  commands->push_back(verify);

  Command repro{parent.add_subcommand("reproduce", "Re-run an artifact's recorded command and compare every file"), nullptr};
  repro.app->add_option("artifact", a->artifact, "Artifact directory written by qforge quantize")->required();
  repro.app->add_option("--threads", a->threads, "Worker threads for the re-run (0 = all cores)")->capture_default_str()->check(CLI::NonNegativeNumber);
  repro.app->add_option("--work-dir", a->work_dir, "Where the re-run writes (default: the system temporary directory)");
  repro.app->add_flag("--keep", a->keep, "Keep the re-run's output");
  repro.app->add_flag("--json", a->json, "Print the report as JSON");
  repro.run = [app = repro.app, a] { return RunReproduce(*app, *a); };
  commands->push_back(repro);

  Command sbom{parent.add_subcommand("sbom", "Write an artifact's CycloneDX SBOM with measured figures from an eval report"), nullptr};
  sbom.app->add_option("artifact", a->artifact, "Artifact directory written by qforge quantize")->required();
  sbom.app->add_option("--eval", a->eval, "eval --json output, or a compare row (DIR/rows/ID.json)")->required();
  sbom.app->add_option("-o,--output", a->out, "SBOM file to write (CycloneDX 1.6 JSON)")->required();
  sbom.run = [app = sbom.app, a] { return RunSbom(*app, *a); };
  commands->push_back(sbom);

}

}  // namespace qforge::cli
