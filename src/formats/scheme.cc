#include "formats/scheme.h"

#include <charconv>

#include <fmt/format.h>

namespace qforge::formats {

namespace {

bool IsScaledGrid(FormatKind k) { return k == FormatKind::kIntGrid || k == FormatKind::kFloat; }

}  // namespace

QuantScheme QuantScheme::Default(DType format) {
  const DTypeInfo& info = Info(format);
  QuantScheme s;
  s.format = format;
  if (info.block > 0) {
    s.granularity = Granularity::kBlock;
    s.group_size = info.block;
    s.scale_type = info.block_scale;
  } else if (IsScaledGrid(info.kind)) {
    s.granularity = Granularity::kChannel;
    s.scale_type = ScaleType::kF16;
  } else {
    s.granularity = Granularity::kNone;
    s.scale_type = ScaleType::kNone;
  }
  return s;
}

int64_t QuantScheme::ElementsPerScale(int64_t cols) const {
  switch (granularity) {
    case Granularity::kGroup:
    case Granularity::kBlock: return group_size;
    case Granularity::kChannel: return cols;
    case Granularity::kTensor:
    case Granularity::kNone: return cols;
  }
  return cols;
}

int64_t QuantScheme::GroupsPerRow(int64_t cols) const {
  switch (granularity) {
    case Granularity::kGroup:
    case Granularity::kBlock: return cols == 0 ? 0 : (cols + group_size - 1) / group_size;
    case Granularity::kChannel:
    case Granularity::kTensor: return 1;
    case Granularity::kNone: return 0;
  }
  return 0;
}

std::string QuantScheme::Name() const {
  const DTypeInfo& info = Info(format);
  std::string out(info.name);
  if (!IsScaledGrid(info.kind)) {
    if (double_quant) out += ":dq";
    return out;
  }
  switch (granularity) {
    case Granularity::kTensor: out += ":tensor"; break;
    case Granularity::kChannel: out += ":channel"; break;
    case Granularity::kGroup: out += fmt::format(":g{}", group_size); break;
    default: break;
  }
  if (info.kind == FormatKind::kIntGrid) out += symmetric ? ":sym" : ":asym";
  if (clip_search) out += ":clip";
  if (scale_type != ScaleType::kF16) out += fmt::format(":scale={}", ScaleTypeName(scale_type));
  return out;
}

Result<QuantScheme> QuantScheme::Parse(std::string_view text) {
  auto bad = [&](std::string_view why) {
    return MakeError("bad quantization scheme '{}': {} (form: FORMAT[:tensor|:channel|:gG][:sym|:asym][:clip][:dq]"
                     "[:scale=f32|f16|bf16])", text, why);
  };
  size_t colon = text.find(':');
  const std::string_view fname = text.substr(0, colon);
  const auto dt = DTypeFromName(fname);
  if (!dt) {
    std::string known;
    for (const auto& i : kDTypeTable)
      if (i.kind != FormatKind::kStorage || i.id == DType::kF16 || i.id == DType::kBF16 || i.id == DType::kF32)
        known += fmt::format("{}{}", known.empty() ? "" : ", ", i.name);
    return bad(fmt::format("unknown format '{}'; known: {}", fname, known));
  }
  QuantScheme s = Default(*dt);
  while (colon != std::string_view::npos) {
    const size_t next = text.find(':', colon + 1);
    const std::string_view opt = text.substr(colon + 1, next == std::string_view::npos ? next : next - colon - 1);
    colon = next;
    if (opt == "tensor") {
      s.granularity = Granularity::kTensor;
      s.group_size = 0;
    } else if (opt == "channel") {
      s.granularity = Granularity::kChannel;
      s.group_size = 0;
    } else if (opt.size() > 1 && opt[0] == 'g') {
      int64_t g = 0;
      auto [p, ec] = std::from_chars(opt.data() + 1, opt.data() + opt.size(), g);
      if (ec != std::errc() || p != opt.data() + opt.size() || g <= 0) return bad(fmt::format("bad group size '{}'", opt));
      s.granularity = Granularity::kGroup;
      s.group_size = g;
    } else if (opt == "sym") {
      s.symmetric = true;
    } else if (opt == "asym") {
      s.symmetric = false;
    } else if (opt == "clip") {
      s.clip_search = true;
    } else if (opt == "dq") {
      s.double_quant = true;
    } else if (opt == "scale=f32") {
      s.scale_type = ScaleType::kF32;
    } else if (opt == "scale=f16") {
      s.scale_type = ScaleType::kF16;
    } else if (opt == "scale=bf16") {
      s.scale_type = ScaleType::kBF16;
    } else {
      return bad(fmt::format("unknown option '{}'", opt));
    }
  }
  if (Status st = Validate(s); !st.ok()) return bad(st.error().message);
  return s;
}

Status Validate(const QuantScheme& s) {
  const DTypeInfo* info = FindDTypeInfo(s.format);
  if (!info) return MakeError("unknown format number {}", static_cast<int>(s.format));
  switch (info->kind) {
    case FormatKind::kStorage:
      if (s.format != DType::kF32 && s.format != DType::kF16 && s.format != DType::kBF16)
        return MakeError("'{}' is a storage type, not a quantization format", info->name);
      if (s.granularity != Granularity::kNone || s.double_quant || s.clip_search)
        return MakeError("'{}' is a plain cast and takes no scale options", info->name);
      return Status::Ok();
    case FormatKind::kScaleOnly:
      return MakeError("'{}' is a scale format (used inside mxfp4), not an element format", info->name);
    case FormatKind::kIntGrid:
    case FormatKind::kFloat:
      if (s.granularity == Granularity::kBlock || s.granularity == Granularity::kNone)
        return MakeError("'{}' needs :tensor, :channel or :gG", info->name);
      if (s.granularity == Granularity::kGroup && s.group_size <= 0) return MakeError("group size must be positive");
      if (s.double_quant) return MakeError("double quantization (:dq) applies to nf4 and fp4_bnb only");
      if (info->kind == FormatKind::kFloat && !s.symmetric)
        return MakeError("'{}' is a float format; asymmetric (zero-point) scaling is not defined for it", info->name);
      if (s.scale_type != ScaleType::kF32 && s.scale_type != ScaleType::kF16 && s.scale_type != ScaleType::kBF16)
        return MakeError("scale storage must be f32, f16 or bf16");
      return Status::Ok();
    case FormatKind::kCodebook:
    case FormatKind::kMicroscaled:
      if (s.granularity != Granularity::kBlock || s.group_size != info->block || s.scale_type != info->block_scale)
        return MakeError("'{}' has fixed {}-element blocks; granularity and scale options do not apply", info->name,
                         info->block);
      if (s.clip_search) return MakeError("'{}' does not take :clip", info->name);
      if (s.double_quant && info->kind != FormatKind::kCodebook)
        return MakeError("double quantization (:dq) applies to nf4 and fp4_bnb only");
      if (!s.symmetric) return MakeError("'{}' is symmetric by definition", info->name);
      return Status::Ok();
  }
  return MakeError("unhandled format kind");
}

double NominalBitsPerWeight(const QuantScheme& s) {
  const DTypeInfo& info = Info(s.format);
  double bits = info.bits;
  switch (s.granularity) {
    case Granularity::kNone:
    case Granularity::kTensor:
    case Granularity::kChannel:
      return bits;  // one scale per (large) row or tensor: overhead -> 0
    case Granularity::kGroup:
    case Granularity::kBlock:
      break;
  }
  const double g = static_cast<double>(s.group_size);
  if (info.kind == FormatKind::kCodebook && s.double_quant) {
    bits += 8.0 / g + 32.0 / (g * 256.0);  // QLoRA: 8-bit scales + one FP32 per 256 scales
  } else {
    bits += ScaleBits(s.scale_type) / g;
  }
  if (info.kind == FormatKind::kIntGrid && !s.symmetric) bits += info.bits / g;  // packed zero points
  return bits;
}

std::vector<QuantScheme> DefaultSchemes(int64_t group_size) {
  std::vector<QuantScheme> out;
  for (const auto& info : kDTypeTable) {
    switch (info.kind) {
      case FormatKind::kStorage:
        if (info.id == DType::kF16 || info.id == DType::kBF16) out.push_back(QuantScheme::Default(info.id));
        break;
      case FormatKind::kScaleOnly:
        break;
      case FormatKind::kIntGrid:
      case FormatKind::kFloat: {
        QuantScheme s = QuantScheme::Default(info.id);
        s.granularity = Granularity::kTensor;
        out.push_back(s);
        s.granularity = Granularity::kChannel;
        out.push_back(s);
        s.granularity = Granularity::kGroup;
        s.group_size = group_size;
        out.push_back(s);
        if (info.kind == FormatKind::kIntGrid) {
          s.symmetric = false;
          out.push_back(s);
        }
        break;
      }
      case FormatKind::kCodebook: {
        QuantScheme s = QuantScheme::Default(info.id);
        out.push_back(s);
        s.double_quant = true;
        out.push_back(s);
        break;
      }
      case FormatKind::kMicroscaled:
        out.push_back(QuantScheme::Default(info.id));
        break;
    }
  }
  return out;
}

}  // namespace qforge::formats
