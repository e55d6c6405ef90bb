// The f32 weights of one decoder layer as the quantization pipeline holds them (pipeline.h):
// serving them to the runtime's layer builder, and folding AWQ / SmoothQuant scales into them.
#include <cmath>
#include <string>

#include <fmt/format.h>

#include "quant/awq.h"
#include "quant/pipeline.h"

namespace qforge::quant {

const model::Architecture& LayerWeightsF32::architecture() const { return model::ArchitectureOrLlama(arch); }

model::TensorLookup LayerWeightsF32::Lookup(const std::string& prefix) const {
  return [this, prefix](const std::string& name) -> std::optional<TensorView> {
    if (name.rfind(prefix, 0) != 0) return std::nullopt;
    const std::string rest = name.substr(prefix.size());
    const model::Architecture& a = architecture();
    for (int l = 0; l < model::kNumLinears; ++l) {
      const std::string lin(a.linears[l].name);
      if (rest == lin + ".weight") return w[l].view();
      if (l <= 2 && rest == lin + ".bias" && !bias[l].empty()) {
        return TensorView::Contiguous(bias[l].data(), DType::kF32, Shape{static_cast<int64_t>(bias[l].size())});
      }
    }
    for (const model::NormSpec& n : a.norms) {
      const std::vector<float>& v = norm[static_cast<int>(n.slot)];
      if (rest == n.name && !v.empty()) {
        return TensorView::Contiguous(v.data(), DType::kF32, Shape{static_cast<int64_t>(v.size())});
      }
    }
    return std::nullopt;
  };
}

Status FoldAwqScales(LayerWeightsF32& lw, const AwqLayerScales& f) {
  using model::LinearSite;
  using Kind = model::FoldSpec::Kind;
  const model::Architecture& arch = lw.architecture();
  auto check = [&](const std::vector<float>& s, int64_t n, std::string_view what) -> Status {
    if (static_cast<int64_t>(s.size()) != n) {
      return MakeError("AWQ scales for {}: {} values, expected {}", what, s.size(), n);
    }
    for (float v : s) {
      if (!(v > 0.0f) || !std::isfinite(v)) return MakeError("AWQ scales for {}: {} is not a positive finite scale", what, v);
    }
    return Status::Ok();
  };
  // Check every site first, so that an error changes nothing.
  for (int site = 0; site < model::kNumSites; ++site) {
    const std::vector<float>& s = f.scales[site];
    if (s.empty()) continue;
    const std::string_view what = model::LinearSiteName(static_cast<LinearSite>(site));
    const model::FoldSpec& fold = arch.fold(static_cast<LinearSite>(site));
    int64_t in = -1;
    for (int l = 0; l < model::kNumLinears; ++l) {
      if (arch.linears[l].site == static_cast<LinearSite>(site)) in = lw.w[l].cols();
    }
    QF_TRY(check(s, in, what));
    if (fold.kind == Kind::kNone) return MakeError("AWQ scales for {}: this architecture has nowhere to fold them", what);
    if (fold.kind == Kind::kNorm && static_cast<int64_t>(lw.norm[static_cast<int>(fold.norm)].size()) != in) {
      return MakeError("AWQ scales for {}: the norm they fold into has {} weights, expected {}", what,
                       lw.norm[static_cast<int>(fold.norm)].size(), in);
    }
    if (fold.kind == Kind::kLinearRows && lw.w[static_cast<int>(fold.linear)].rows() != in) {
      return MakeError("AWQ scales for {}: {} has {} outputs but the scaled linears {} inputs{}", what,
                       arch.linear(fold.linear).name, lw.w[static_cast<int>(fold.linear)].rows(), in,
                       fold.linear == model::LinearId::kV ? " (grouped-query attention)" : "");
    }
  }
  for (int site = 0; site < model::kNumSites; ++site) {
    const std::vector<float>& s = f.scales[site];
    if (s.empty()) continue;
    for (int l = 0; l < model::kNumLinears; ++l) {
      if (arch.linears[l].site == static_cast<LinearSite>(site)) ScaleColumns(lw.w[l].mutable_matrix(), s);
    }
    const model::FoldSpec& fold = arch.fold(static_cast<LinearSite>(site));
    if (fold.kind == Kind::kNorm) {
      DivideVector(std::span<float>(lw.norm[static_cast<int>(fold.norm)]), s);
    } else {
      const int src = static_cast<int>(fold.linear);
      DivideRows(lw.w[src].mutable_matrix(), s);
      if (src <= static_cast<int>(model::LinearId::kV) && !lw.bias[src].empty()) DivideVector(std::span<float>(lw.bias[src]), s);
    }
  }
  return Status::Ok();
}

}  // namespace qforge::quant
