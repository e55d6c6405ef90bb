#include "quant/gguf_recipe.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>

namespace qforge::quant {

using formats::GgmlType;

namespace {

// enum llama_ftype (include/llama.h) and llama_ftype_get_default_type (src/llama-quant.cpp).
constexpr GgufFileType kGgufFileTypes[] = {
    {"F32", 0, GgmlType::kF32},       {"F16", 1, GgmlType::kF16},       {"Q4_0", 2, GgmlType::kQ4_0},
    {"Q4_1", 3, GgmlType::kQ4_1},     {"Q8_0", 7, GgmlType::kQ8_0},     {"Q5_0", 8, GgmlType::kQ5_0},
    {"Q5_1", 9, GgmlType::kQ5_1},     {"Q2_K", 10, GgmlType::kQ2_K},    {"Q3_K_S", 11, GgmlType::kQ3_K},
    {"Q3_K_M", 12, GgmlType::kQ3_K},  {"Q3_K_L", 13, GgmlType::kQ3_K},  {"Q4_K_S", 14, GgmlType::kQ4_K},
    {"Q4_K_M", 15, GgmlType::kQ4_K},  {"Q5_K_S", 16, GgmlType::kQ5_K},  {"Q5_K_M", 17, GgmlType::kQ5_K},
    {"Q6_K", 18, GgmlType::kQ6_K},    {"IQ4_NL", 25, GgmlType::kIQ4_NL}, {"IQ4_XS", 30, GgmlType::kIQ4_XS},
    {"BF16", 32, GgmlType::kBF16},
};

enum class Category { kTokenEmbd, kAttnQ, kAttnV, kAttnK, kAttnQkv, kAttnKvB, kAttnOutput, kFfnUp, kFfnGate, kFfnDown, kOutput, kOther };

bool Contains(std::string_view s, std::string_view part) { return s.find(part) != std::string_view::npos; }

// tensor_get_category: substring tests in llama.cpp's order.
Category CategoryOf(std::string_view name) {
  if (name == "output.weight") return Category::kOutput;
  if (name == "token_embd.weight" || name == "per_layer_token_embd.weight") return Category::kTokenEmbd;
  if (Contains(name, "attn_qkv.weight")) return Category::kAttnQkv;
  if (Contains(name, "attn_kv_b.weight")) return Category::kAttnKvB;
  if (Contains(name, "attn_v.weight")) return Category::kAttnV;
  if (Contains(name, "attn_k.weight")) return Category::kAttnK;
  if (Contains(name, "attn_q.weight")) return Category::kAttnQ;
  if (Contains(name, "attn_output.weight")) return Category::kAttnOutput;
  if (Contains(name, "ffn_up")) return Category::kFfnUp;
  if (Contains(name, "ffn_gate")) return Category::kFfnGate;
  if (Contains(name, "ffn_down")) return Category::kFfnDown;
  return Category::kOther;
}

bool IsAttnVLike(Category c) { return c == Category::kAttnV || c == Category::kAttnQkv || c == Category::kAttnKvB; }

// tensor_allows_quantization, for the dense architectures qforge exports.
bool AllowsQuantization(const GgufRecipeTensor& t) {
  if (t.n_dims < 2) return false;
  const std::string_view n = t.name;
  if (!n.ends_with("weight")) return false;
  if (Contains(n, "_norm.weight") || Contains(n, "ffn_gate_inp.weight")) return false;
  if (Contains(n, "altup") || Contains(n, "laurel") || Contains(n, "per_layer_model_proj")) return false;
  if (n == "position_embd.weight" || n == "token_types.weight") return false;
  return true;
}

bool UseMoreBits(int64_t i, int64_t n) { return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2; }

int64_t BlockOf(GgmlType t) { return formats::GgmlInfo(t).block_size; }

std::string Upper(std::string_view s) {
  std::string u(s);
  for (char& c : u) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return u;
}

struct Counters {
  int64_t n_attention_wv = 0, i_attention_wv = 0, i_ffn_down = 0, i_ffn_gate = 0, i_ffn_up = 0;
  bool tied = true;
};

// llama_tensor_get_type_impl for the file types of kGgufFileTypes (the IQ1/IQ2/IQ3/TQ rules are not
// reachable from them and are left out).
GgmlType MixtureType(const GgufRecipeModel& m, const GgufRecipeTensor& t, Category cat, const GgufFileType& ft,
                     bool has_imatrix, Counters& c) {
  GgmlType type = ft.base;
  const std::string_view f = ft.name;
  const int64_t n_gqa = m.n_head_kv > 0 ? m.n_head / m.n_head_kv : 0;
  // LLM_TYPE_70B (src/models/llama.cpp, qwen2.cpp load_arch_hparams): 80 layers; llama only with GQA.
  const bool is_70b = m.n_layer == 80 && ((m.arch == "llama" && m.n_head != m.n_head_kv) || m.arch == "qwen2");
  if (cat == Category::kOutput || (c.tied && cat == Category::kTokenEmbd)) {
    if (t.ne[0] % BlockOf(type) != 0) {
      type = GgmlType::kQ8_0;
    } else if (type != GgmlType::kQ8_0) {
      type = GgmlType::kQ6_K;
    }
  } else if (cat == Category::kTokenEmbd) {
    // Untied embeddings keep the base type for every file type here.
  } else if (IsAttnVLike(cat)) {
    if (f == "Q2_K") {
      type = n_gqa >= 4 ? GgmlType::kQ4_K : GgmlType::kQ3_K;
    } else if (f == "Q3_K_M") {
      type = c.i_attention_wv < 2 ? GgmlType::kQ5_K : GgmlType::kQ4_K;
    } else if (f == "Q3_K_L") {
      type = GgmlType::kQ5_K;
    } else if ((f == "IQ4_NL" || f == "IQ4_XS") && n_gqa >= 4) {
      type = GgmlType::kQ5_K;
    } else if ((f == "Q4_K_M" || f == "Q5_K_M") && UseMoreBits(c.i_attention_wv, c.n_attention_wv)) {
      type = GgmlType::kQ6_K;
    } else if (f == "Q4_K_S" && c.i_attention_wv < 4) {
      type = GgmlType::kQ5_K;
    }
    if (is_70b && (type == GgmlType::kQ3_K || type == GgmlType::kQ4_K)) type = GgmlType::kQ5_K;
    ++c.i_attention_wv;
  } else if (cat == Category::kFfnDown) {
    const int64_t i = c.i_ffn_down, n = m.n_layer;
    if (f == "Q2_K") {
      type = GgmlType::kQ3_K;
    } else if (f == "Q3_K_M") {
      type = i < n / 16 ? GgmlType::kQ5_K : GgmlType::kQ4_K;  // (the Q3_K branch is Falcon's)
    } else if (f == "Q3_K_L") {
      type = GgmlType::kQ5_K;
    } else if (f == "Q4_K_M") {
      if (UseMoreBits(i, n)) type = GgmlType::kQ6_K;
    } else if (i < n / 8 && (f == "IQ4_NL" || f == "IQ4_XS") && !has_imatrix) {
      type = GgmlType::kQ5_K;
    } else if (f == "Q5_K_M" && UseMoreBits(i, n)) {
      type = GgmlType::kQ6_K;
    } else if (f == "Q4_K_S" && i < n / 8) {
      type = GgmlType::kQ5_K;
    } else if ((f == "Q4_0" || f == "Q5_0") && has_imatrix && i < n / 8) {
      type = f == "Q4_0" ? GgmlType::kQ4_1 : GgmlType::kQ5_1;
    }
    ++c.i_ffn_down;
  } else if (cat == Category::kAttnOutput) {
    if (f == "Q2_K") {
      type = GgmlType::kQ3_K;
    } else if (f == "Q3_K_M") {
      type = GgmlType::kQ4_K;
    } else if (f == "Q3_K_L") {
      type = GgmlType::kQ5_K;
    }
  } else if (cat == Category::kFfnGate) {
    ++c.i_ffn_gate;
  } else if (cat == Category::kFfnUp) {
    ++c.i_ffn_up;
  }
  return type;
}

// tensor_type_fallback.
GgmlType Fallback(GgmlType type, int64_t ncols, bool* fell_back) {
  if (ncols % BlockOf(type) == 0) return type;
  *fell_back = true;
  GgmlType r = type;
  switch (type) {
    case GgmlType::kIQ4_XS: r = GgmlType::kIQ4_NL; break;
    case GgmlType::kQ2_K:
    case GgmlType::kQ3_K: r = GgmlType::kQ4_0; break;
    case GgmlType::kQ4_K: r = GgmlType::kQ5_0; break;
    case GgmlType::kQ5_K: r = GgmlType::kQ5_1; break;
    case GgmlType::kQ6_K: r = GgmlType::kQ8_0; break;
    default: break;  // a 32-element type: only F16 is left
  }
  if (ncols % BlockOf(r) != 0) r = GgmlType::kF16;
  return r;
}

}  // namespace

std::span<const GgufFileType> GgufFileTypes() { return kGgufFileTypes; }

const GgufFileType* FindGgufFileType(std::string_view name) {
  const std::string u = Upper(name);
  for (const GgufFileType& t : kGgufFileTypes) {
    if (t.name == u) return &t;
  }
  return nullptr;
}

std::string GgufFileTypeNames() {
  std::string s;
  for (const GgufFileType& t : kGgufFileTypes) {
    if (!s.empty()) s += ' ';
    s += t.name;
  }
  return s;
}

bool LlamaTensorLess(const std::string& a, const std::string& b) {
  auto layer = [](const std::string& s) -> int64_t {
    // sscanf("blk.%d.") semantics: digits after "blk." followed by '.', else -1.
    if (!s.starts_with("blk.")) return -1;
    size_t i = 4;
    int64_t v = 0;
    bool any = false;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i])) && v < (int64_t{1} << 40)) {
      v = v * 10 + (s[i] - '0');
      ++i;
      any = true;
    }
    return any ? v : -1;
  };
  const int64_t la = layer(a), lb = layer(b);
  if (la != lb) return la < lb;
  return a < b;
}

Result<std::vector<GgufTensorChoice>> ChooseGgufTypes(const GgufRecipeModel& model,
                                                       std::span<const GgufRecipeTensor> tensors,
                                                       const GgufFileType& ftype, bool has_imatrix) {
  if (model.n_expert > 1) {
    return MakeError("GGUF export: mixture-of-experts models ({} experts) are not supported yet", model.n_expert);
  }
  if (model.n_layer <= 0 || model.n_head <= 0 || model.n_head_kv <= 0) {
    return MakeError("GGUF export: the model's block_count / head_count / head_count_kv are missing or not positive");
  }
  Counters c;
  for (const GgufRecipeTensor& t : tensors) {
    const Category cat = CategoryOf(t.name);
    if (IsAttnVLike(cat)) ++c.n_attention_wv;
    if (cat == Category::kOutput) c.tied = false;
  }
  const bool quantized_base = formats::GgmlInfo(ftype.base).block_size > 1;
  std::vector<GgufTensorChoice> out;
  out.reserve(tensors.size());
  for (const GgufRecipeTensor& t : tensors) {
    GgufTensorChoice ch{t.type, AllowsQuantization(t), false};
    if (ch.quantizable) {
      ch.type = ftype.base;
      if (quantized_base) {
        ch.type = MixtureType(model, t, CategoryOf(t.name), ftype, has_imatrix, c);
        ch.type = Fallback(ch.type, t.ne[0], &ch.fell_back);
      }
    }
    out.push_back(ch);
  }
  if (c.i_ffn_down != 0 && c.i_ffn_down != model.n_layer) {
    return MakeError("GGUF export: {} ffn_down tensors for block_count {}", c.i_ffn_down, model.n_layer);
  }
  return out;
}

}  // namespace qforge::quant
