#include "model/llama.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstring>

#include "kernels/kernels.h"

namespace qforge::model {

namespace {

Result<TensorView> Need(const TensorLookup& tensors, const std::string& name, std::initializer_list<int64_t> shape) {
  std::optional<TensorView> t = tensors(name);
  if (!t) return MakeError("tensor '{}' is missing from the checkpoint", name);
  const Shape want(shape);
  if (!(t->shape == want)) return MakeError("tensor '{}': expected shape {}, found {}", name, want.ToString(), t->shape.ToString());
  return *t;
}

// The norm's multiplier: offset + the stored weight (see LlamaSpec::norm_offset), in f32.
Result<std::vector<float>> NormWeight(const TensorLookup& tensors, const std::string& name, int64_t n, float offset) {
  QF_ASSIGN_OR_RETURN(TensorView t, Need(tensors, name, {n}));
  std::vector<float> out(n);
  const auto& k = kernels::Kernels();
  switch (t.dtype) {
    case DType::kF32: std::memcpy(out.data(), t.data, n * sizeof(float)); break;
    case DType::kF16: k.f16_to_f32(static_cast<const uint16_t*>(t.data), out.data(), n); break;
    case DType::kBF16: k.bf16_to_f32(static_cast<const uint16_t*>(t.data), out.data(), n); break;
    default: return MakeError("tensor '{}': dtype {} not supported for a norm weight", name, Name(t.dtype));
  }
  if (offset != 0) {
    for (float& w : out) w += offset;
  }
  return out;
}

Status MakeLinear(const TensorLookup& tensors, const QuantizationConfig& quant, const std::string& prefix, int64_t out,
                  int64_t in, bool allow_bias, std::unique_ptr<LinearLayer>* layer, const LinearMethod** method) {
  const LinearMethod& m = quant.MethodFor(prefix);
  QF_ASSIGN_OR_RETURN(*layer, m.CreateWeights(prefix, tensors, allow_bias));
  if ((*layer)->out_features != out || (*layer)->in_features != in) {
    return MakeError("tensor '{}.weight': expected [out, in] = [{}, {}], found [{}, {}]", prefix, out, in,
                     (*layer)->out_features, (*layer)->in_features);
  }
  *method = &m;
  return Status::Ok();
}

}  // namespace

const Architecture& LlamaSpec::architecture() const { return ArchitectureOrLlama(arch); }

bool LlamaSpec::any_sliding() const {
  return std::any_of(layer_window.begin(), layer_window.end(), [](int64_t w) { return w > 0; });
}

Result<DecoderLayer> CreateDecoderLayer(const LlamaSpec& s, int64_t i, const TensorLookup& tensors,
                                        const QuantizationConfig& quant) {
  const Architecture& arch = s.architecture();
  const int64_t q_dim = s.heads * s.head_dim, kv_dim = s.kv_heads * s.head_dim;
  auto size = [&](Dim d) { return DimSize(d, s.hidden, q_dim, kv_dim, s.intermediate, s.head_dim); };
  DecoderLayer L;
  const std::string p = "model.layers." + std::to_string(i) + ".";
  for (const NormSpec& n : arch.norms) {
    QF_ASSIGN_OR_RETURN(L.norm[static_cast<int>(n.slot)], NormWeight(tensors, p + std::string(n.name), size(n.dim), s.norm_offset));
  }
  for (const LinearSpec& l : arch.linears) {
    const int k = static_cast<int>(l.id);
    const bool bias = l.site == LinearSite::kQkv;  // q/k/v may carry biases (Qwen2); no other linear does
    QF_TRY(MakeLinear(tensors, quant, p + std::string(l.name), size(l.out), size(l.in), bias, &L.lin[k], &L.method[k]));
  }
  return L;
}

Result<std::unique_ptr<LlamaModel>> LlamaModel::Create(const LlamaSpec& spec, const TensorLookup& tensors,
                                                       const QuantizationConfig& quant,
                                                       std::shared_ptr<const void> keep_alive,
                                                       const GgmlTensorLookup* raw) {
  const LlamaSpec& s = spec;
  if (s.hidden <= 0 || s.intermediate <= 0 || s.layers <= 0 || s.heads <= 0 || s.kv_heads <= 0 || s.head_dim <= 0 ||
      s.vocab <= 0) {
    return MakeError("model config: hidden, intermediate, layers, heads, kv_heads, head_dim and vocab must be positive");
  }
  if (s.heads % s.kv_heads != 0) {
    return MakeError("model config: num_attention_heads {} is not a multiple of num_key_value_heads {}", s.heads, s.kv_heads);
  }
  const int64_t rot = s.rotary_dim > 0 ? s.rotary_dim : s.head_dim;
  if (rot % 2 != 0 || rot > s.head_dim) {
    return MakeError("model config: rotary dim {} must be even and at most head_dim {}", rot, s.head_dim);
  }
  if (!s.layer_window.empty() && static_cast<int64_t>(s.layer_window.size()) != s.layers) {
    return MakeError("model config: {} layer windows for {} layers", s.layer_window.size(), s.layers);
  }
  std::unique_ptr<LlamaModel> m(new LlamaModel);
  m->spec_ = spec;
  m->keep_alive_ = std::move(keep_alive);
  const std::string embed_name = "model.embed_tokens.weight";
  std::optional<GgmlTensorRef> block = raw != nullptr && !tensors(embed_name) ? (*raw)(embed_name) : std::nullopt;
  if (block) {
    const Shape want({s.vocab, s.hidden});
    if (!(block->shape == want)) {
      return MakeError("tensor '{}': expected shape {}, found {}", embed_name, want.ToString(), block->shape.ToString());
    }
    auto e = EmbeddingTable::Ggml(block->type, s.vocab, s.hidden, block->bytes);
    if (!e.ok()) return std::move(e).error().Context("tensor '" + embed_name + "'");
    m->embed_ = std::move(e).value();
  } else {
    QF_ASSIGN_OR_RETURN(TensorView ev, Need(tensors, embed_name, {s.vocab, s.hidden}));
    auto e = EmbeddingTable::Plain(ev);
    if (!e.ok()) return std::move(e).error().Context("tensor '" + embed_name + "'");
    m->embed_ = std::move(e).value();
  }
  for (int64_t i = 0; i < s.layers; ++i) {
    QF_ASSIGN_OR_RETURN(DecoderLayer L, CreateDecoderLayer(s, i, tensors, quant));
    m->layers_.push_back(std::move(L));
  }
  QF_ASSIGN_OR_RETURN(m->final_norm_, NormWeight(tensors, "model.norm.weight", s.hidden, s.norm_offset));
  // An untied classifier may be plain or block-quantized (`raw`): either way it is lm_head.weight, never
  // the embedding.
  const bool has_lm_head = tensors("lm_head.weight").has_value() || (raw != nullptr && (*raw)("lm_head.weight"));
  if (!s.tie_embeddings && !has_lm_head) {
    return MakeError("the config does not tie the classifier to the embedding, but lm_head.weight is missing");
  }
  if (!s.tie_embeddings) {
    QF_TRY(MakeLinear(tensors, quant, "lm_head", s.vocab, s.hidden, false, &m->lm_head_, &m->lm_head_m_));
  } else {
    // Tied classifier: the embedding matrix is the [vocab, hidden] weight of the output layer.
    const LinearMethod& lm = quant.MethodFor("lm_head");
    QF_ASSIGN_OR_RETURN(m->lm_head_, lm.CreateWeights("model.embed_tokens", tensors, false));
    m->lm_head_m_ = &lm;
  }
  return m;
}

LayerScratch::LayerScratch(const LlamaSpec& s, int64_t max_seq, int64_t max_block_in)
    : max_block(std::max<int64_t>(1, max_block_in)) {
  q_dim = s.heads * s.head_dim;
  kv_dim = s.kv_heads * s.head_dim;
  rot_dim = s.rotary_dim > 0 ? s.rotary_dim : s.head_dim;
  const int64_t b = max_block;
  xn.resize(b * s.hidden);
  q.resize(b * q_dim);
  k.resize(b * kv_dim);
  v.resize(b * kv_dim);
  att.resize(b * q_dim);
  gate.resize(b * s.intermediate);
  up.resize(b * s.intermediate);
  inv_freq.resize(rot_dim / 2);
  for (int r = 0; r < 2; ++r) {
    cos[r].resize(b * (rot_dim / 2));
    sin[r].resize(b * (rot_dim / 2));
  }
}

Session::Session(const LlamaModel& model, int64_t max_seq, int64_t max_block, KvCacheType kv)
    : m_(model), max_seq_(max_seq), sc_(model.spec_, max_seq, max_block), kv_type_(kv) {
  const LlamaSpec& s = m_.spec_;
  k_cache_.resize(static_cast<size_t>(s.layers * max_seq_ * sc_.kv_dim * KvElementBytes(kv)));
  v_cache_.resize(k_cache_.size());
  if (KvHasScale(kv)) {
    k_scale_.resize(static_cast<size_t>(s.layers * max_seq_ * s.kv_heads));
    v_scale_.resize(k_scale_.size());
  }
  x_.resize(sc_.max_block * s.hidden);
}

Status Session::Forward(std::span<const int32_t> tokens, bool all_logits, float* logits, ThreadPool& pool) {
  const int64_t n = static_cast<int64_t>(tokens.size());
  if (pos_ + n > max_seq_) {
    return MakeError("context overflow: {} cached + {} new tokens exceed the session's {} positions", pos_, n, max_seq_);
  }
  for (int64_t i = 0; i < n; ++i) {
    if (tokens[i] < 0 || tokens[i] >= m_.spec_.vocab) {
      return MakeError("token id {} at index {} is outside the vocabulary [0, {})", tokens[i], i, m_.spec_.vocab);
    }
  }
  for (int64_t done = 0; done < n;) {
    const int64_t b = std::min(sc_.max_block, n - done);
    const bool last_block = done + b == n;
    float* out = nullptr;
    if (logits != nullptr) {
      if (all_logits) out = logits + done * m_.spec_.vocab;
      else if (last_block) out = logits;
    }
    ForwardBlock(tokens.data() + done, b, out, all_logits, pool);
    done += b;
  }
  return Status::Ok();
}

namespace {
// One layer's KV cache: [max_seq, kv_heads, head_dim] elements of `type` for K and V, and for the
// scaled types one f32 scale per (position, kv head) (model/kv_cache.h).
struct KvLayer {
  KvCacheType type = KvCacheType::kF32;
  uint8_t *k = nullptr, *v = nullptr;
  float *ks = nullptr, *vs = nullptr;
};

struct AttnArgs {
  const kernels::KernelTable* k;
  const float *q, *kc, *vc;  // the f32 cache (nullptr for the other types: see kv)
  const KvLayer* kv;
  int64_t kv_heads;
  float* att;
  int64_t heads, group, head_dim, q_dim, kv_dim, pos0, max_seq;
  int64_t window;  // 0: full causal attention
  float scale, softcap;
};

constexpr int64_t kAttnTokens = 16;  // query tokens per attention item
constexpr int64_t kAttnTile = 64;    // key/value positions per tile (a multiple of every ISA's lanes)

// One attention item: tokens [t0, t0 + kAttnTokens) x part `sub` of `split` of the heads that share
// kv head kvh.
void AttendItem(const AttnArgs& p, int64_t item, int64_t split, int64_t n) {
  const int64_t sub = item % split, kvh = (item / split) % p.kv_heads, tt = item / (split * p.kv_heads);
  const int64_t t0 = tt * kAttnTokens, t1 = std::min(n, t0 + kAttnTokens);
  const int64_t h0 = kvh * p.group + sub * p.group / split;
  const int64_t heads_per_item = kvh * p.group + (sub + 1) * p.group / split - h0;
  const int64_t rows = (t1 - t0) * heads_per_item, d = p.head_dim;
  // Per-thread scratch, grown once: q rows, state, scores, a decoded K/V tile.
  thread_local std::vector<float> buf;
  thread_local std::vector<int32_t> ranges;
  const bool f32_cache = p.kv->type == KvCacheType::kF32;
  const size_t need = static_cast<size_t>(2 * rows * d + 2 * rows + rows * kAttnTile + (f32_cache ? 0 : 2 * kAttnTile * d));
  if (buf.size() < need) buf.resize(need);
  if (ranges.size() < static_cast<size_t>(4 * rows)) ranges.resize(static_cast<size_t>(4 * rows));
  float* q = buf.data();
  float* o = q + rows * d;
  float* m = o + rows * d;
  float* l = m + rows;
  float* scr = l + rows;
  float* kt = scr + rows * kAttnTile;
  float* vt = kt + kAttnTile * d;
  int32_t* first = ranges.data();
  int32_t* last = first + rows;
  int32_t* lo = last + rows;
  int32_t* hi = lo + rows;
  int64_t begin = p.pos0 + t1, end = 0;
  for (int64_t t = t0; t < t1; ++t) {
    const int64_t pos = p.pos0 + t;
    const int64_t j0 = p.window > 0 ? std::max<int64_t>(0, pos - p.window + 1) : 0;
    begin = std::min(begin, j0);
    end = std::max(end, pos + 1);
    for (int64_t g = 0; g < heads_per_item; ++g) {
      const int64_t r = (t - t0) * heads_per_item + g;
      std::memcpy(q + r * d, p.q + t * p.q_dim + (h0 + g) * d, d * sizeof(float));
      first[r] = static_cast<int32_t>(j0);
      last[r] = static_cast<int32_t>(pos);
    }
  }
  std::fill(o, o + rows * d, 0.0f);
  std::fill(m, m + rows, -std::numeric_limits<float>::infinity());
  std::fill(l, l + rows, 0.0f);
  const int64_t row_bytes = d * KvElementBytes(p.kv->type);
  // Tiles start at multiples of kAttnTile (absolute positions), the same for every block size.
  for (int64_t a0 = begin - begin % kAttnTile; a0 < end; a0 += kAttnTile) {
    const int64_t nt = std::min(kAttnTile, end - a0);
    for (int64_t r = 0; r < rows; ++r) {
      lo[r] = static_cast<int32_t>(std::clamp<int64_t>(first[r] - a0, 0, nt));
      hi[r] = static_cast<int32_t>(std::clamp<int64_t>(last[r] + 1 - a0, 0, nt));
    }
    const float *kp, *vp;
    int64_t stride;
    if (f32_cache) {
      kp = p.kc + a0 * p.kv_dim + kvh * d;
      vp = p.vc + a0 * p.kv_dim + kvh * d;
      stride = p.kv_dim;
    } else {
      int64_t j_lo = nt, j_hi = 0;  // decode only the rows some query needs
      for (int64_t r = 0; r < rows; ++r) {
        if (lo[r] < hi[r]) j_lo = std::min<int64_t>(j_lo, lo[r]), j_hi = std::max<int64_t>(j_hi, hi[r]);
      }
      for (int64_t j = j_lo; j < j_hi; ++j) {
        const int64_t slot = (a0 + j) * p.kv_heads + kvh;
        DecodeKvRow(p.kv->type, p.kv->k + slot * row_bytes, p.kv->ks ? p.kv->ks[slot] : 0.0f, d, kt + j * d);
        DecodeKvRow(p.kv->type, p.kv->v + slot * row_bytes, p.kv->vs ? p.kv->vs[slot] : 0.0f, d, vt + j * d);
      }
      kp = kt;
      vp = vt;
      stride = d;
    }
    p.k->attn_tile(q, rows, d, kp, vp, stride, nt, lo, hi, p.scale, p.softcap, m, l, o, scr);
  }
  for (int64_t t = t0; t < t1; ++t) {
    for (int64_t g = 0; g < heads_per_item; ++g) {
      const int64_t r = (t - t0) * heads_per_item + g;
      const float inv = 1.0f / l[r];
      float* out = p.att + t * p.q_dim + (h0 + g) * d;
      for (int64_t i = 0; i < d; ++i) out[i] = o[r * d + i] * inv;
    }
  }
}

// Fills the block's RoPE tables for positions [pos0, pos0 + n): table 0 for full-attention layers,
// table 1 for sliding ones (when any layer slides). The dynamic variant depends on the sequence length
// so far.
void PrepareRope(const LlamaSpec& s, LayerScratch& sc, int64_t pos0, int64_t n) {
  const int64_t half = sc.rot_dim / 2;
  const int tables = s.any_sliding() ? 2 : 1;
  for (int r = 0; r < tables; ++r) {
    float att_scale = 1.0f;
    kernels::RopeInvFreq(static_cast<int>(sc.rot_dim), r == 0 ? s.rope_theta : s.rope_theta_sliding,
                         r == 0 ? s.rope_scaling : s.rope_scaling_sliding, pos0 + n, sc.inv_freq.data(), &att_scale);
    for (int64_t t = 0; t < n; ++t) {
      kernels::RopeCosSin(sc.inv_freq.data(), static_cast<int>(sc.rot_dim), pos0 + t, att_scale,
                          sc.cos[r].data() + t * half, sc.sin[r].data() + t * half);
    }
  }
}

// RMSNorm of n rows of `dim` in place, with multiplier w (rows are `stride` apart; `parts` groups of
// dim per row, e.g. the heads of q).
void NormRows(const kernels::KernelTable& k, float* x, int64_t n, int64_t stride, int64_t parts, int64_t dim,
              const std::vector<float>& w, float eps) {
  for (int64_t t = 0; t < n; ++t) {
    for (int64_t h = 0; h < parts; ++h) k.rmsnorm(x + t * stride + h * dim, w.data(), eps, x + t * stride + h * dim, dim);
  }
}

// One decoder layer over a block of n tokens at positions [pos0, pos0 + n): x [n, hidden] in place;
// kc/vc hold the layer's [max_seq, kv_dim] cache (positions < pos0 already filled). RoPE tables
// must have been prepared for the block. `tap` (optional) sees every linear's input.
void ForwardLayer(const LlamaSpec& s, const DecoderLayer& L, int64_t layer_index, LayerScratch& sc, float* x, int64_t n,
                  int64_t pos0, const KvLayer& kv, int64_t max_seq, ThreadPool& pool, const SiteTap* tap) {
  const auto& k = kernels::Kernels();
  const Architecture& arch = s.architecture();
  const float eps = static_cast<float>(s.rms_eps);
  const int64_t H = s.hidden, I = s.intermediate, half = sc.rot_dim / 2;
  const int64_t q_dim = sc.q_dim, kv_dim = sc.kv_dim;
  const int64_t window = s.window(layer_index);
  const int rope = window > 0 ? 1 : 0;
  auto apply = [&](LinearId id, const MatrixF32& in, float* out, int64_t out_dim) {
    L.method_of(id).Apply(L.linear(id), in, {out, n, out_dim, out_dim}, pool);
  };
  const MatrixF32 xn{sc.xn.data(), n, H, H};
  const std::vector<float>& attn_in = L.norm_of(NormSlot::kAttnIn);
  for (int64_t t = 0; t < n; ++t) k.rmsnorm(x + t * H, attn_in.data(), eps, sc.xn.data() + t * H, H);
  if (tap) (*tap)(layer_index, LinearSite::kQkv, xn);
  apply(LinearId::kQ, xn, sc.q.data(), q_dim);
  apply(LinearId::kK, xn, sc.k.data(), kv_dim);
  apply(LinearId::kV, xn, sc.v.data(), kv_dim);
  // Gemma 3: every q and k head is RMS-normalised over head_dim before RoPE.
  if (arch.has_norm(NormSlot::kQHead)) {
    NormRows(k, sc.q.data(), n, q_dim, s.heads, s.head_dim, L.norm_of(NormSlot::kQHead), eps);
  }
  if (arch.has_norm(NormSlot::kKHead)) {
    NormRows(k, sc.k.data(), n, kv_dim, s.kv_heads, s.head_dim, L.norm_of(NormSlot::kKHead), eps);
  }
  const float* cs = sc.cos[rope].data();
  const float* sn = sc.sin[rope].data();
  for (int64_t t = 0; t < n; ++t) {
    kernels::ApplyRope(sc.q.data() + t * q_dim, static_cast<int>(s.heads), static_cast<int>(s.head_dim),
                       static_cast<int>(sc.rot_dim), s.rope_style, cs + t * half, sn + t * half);
    kernels::ApplyRope(sc.k.data() + t * kv_dim, static_cast<int>(s.kv_heads), static_cast<int>(s.head_dim),
                       static_cast<int>(sc.rot_dim), s.rope_style, cs + t * half, sn + t * half);
  }
  const bool f32_cache = kv.type == KvCacheType::kF32;
  float* kc = f32_cache ? reinterpret_cast<float*>(kv.k) : nullptr;
  float* vc = f32_cache ? reinterpret_cast<float*>(kv.v) : nullptr;
  if (f32_cache) {
    std::memcpy(kc + pos0 * kv_dim, sc.k.data(), n * kv_dim * sizeof(float));
    std::memcpy(vc + pos0 * kv_dim, sc.v.data(), n * kv_dim * sizeof(float));
  } else {
    const int64_t row_bytes = s.head_dim * KvElementBytes(kv.type);
    for (int64_t t = 0; t < n; ++t) {
      for (int64_t h = 0; h < s.kv_heads; ++h) {
        const int64_t slot = (pos0 + t) * s.kv_heads + h;
        EncodeKvRow(kv.type, sc.k.data() + t * kv_dim + h * s.head_dim, s.head_dim, kv.k + slot * row_bytes,
                    kv.ks ? kv.ks + slot : nullptr);
        EncodeKvRow(kv.type, sc.v.data() + t * kv_dim + h * s.head_dim, s.head_dim, kv.v + slot * row_bytes,
                    kv.vs ? kv.vs + slot : nullptr);
      }
    }
  }
  // Causal attention, tiled with an online softmax (kernels attn_tile): an item is a block of query
  // rows (up to kAttnTokens tokens x some of the heads that share one kv head); each K/V tile of
  // kAttnTile positions is read (and decoded, for a quantized cache) once per item. Token t at
  // position p = pos0 + t sees positions [0, p], or [p - window + 1, p] on a sliding layer. Rows are
  // independent (kernels.h), so the split into items changes no bits.
  const float scale = s.query_scale > 0 ? static_cast<float>(s.query_scale)
                                        : static_cast<float>(1.0 / std::sqrt(static_cast<double>(s.head_dim)));
  const AttnArgs a{&k,        sc.q.data(),         kc,          vc,    &kv,    s.kv_heads, sc.att.data(),
                   s.heads,   s.heads / s.kv_heads, s.head_dim, q_dim, kv_dim, pos0,       max_seq,       window,
                   scale,     s.attn_softcap};
  const int64_t token_tiles = (n + kAttnTokens - 1) / kAttnTokens;
  // Heads of a group per item: the whole group (each K/V tile read once for all of them) unless that
  // leaves threads idle (decode); then the group is cut into `split` nearly equal parts.
  const int64_t units = token_tiles * s.kv_heads;
  const int64_t split = std::min<int64_t>(a.group, (pool.num_threads() + units - 1) / units);
  pool.ParallelFor(units * split, 1, [p = &a, split, n](int64_t b, int64_t e, int64_t) {
    for (int64_t item = b; item < e; ++item) AttendItem(*p, item, split, n);
  });
  // Output projection into xn (free now), (Gemma: its norm,) residual add.
  const MatrixF32 att{sc.att.data(), n, q_dim, q_dim};
  if (tap) (*tap)(layer_index, LinearSite::kO, att);
  apply(LinearId::kO, att, sc.xn.data(), H);
  if (arch.has_norm(NormSlot::kAttnOut)) NormRows(k, sc.xn.data(), n, H, 1, H, L.norm_of(NormSlot::kAttnOut), eps);
  for (int64_t i = 0; i < n * H; ++i) x[i] += sc.xn[i];
  // MLP.
  const std::vector<float>& mlp_in = L.norm_of(NormSlot::kMlpIn);
  for (int64_t t = 0; t < n; ++t) k.rmsnorm(x + t * H, mlp_in.data(), eps, sc.xn.data() + t * H, H);
  if (tap) (*tap)(layer_index, LinearSite::kGateUp, xn);
  apply(LinearId::kGate, xn, sc.gate.data(), I);
  apply(LinearId::kUp, xn, sc.up.data(), I);
  const auto act = arch.activation == Activation::kGeluTanh ? k.gelu_tanh_mul : k.silu_mul;
  // Element-wise, so any split gives the same bits; Gemma's tanh-GELU is a noticeable share of a
  // prefill on one thread.
  pool.ParallelFor(n, 1, [&](int64_t b, int64_t e, int64_t) {
    for (int64_t t = b; t < e; ++t) act(sc.gate.data() + t * I, sc.up.data() + t * I, sc.gate.data() + t * I, I);
  });
  const MatrixF32 mid{sc.gate.data(), n, I, I};
  if (tap) (*tap)(layer_index, LinearSite::kDown, mid);
  apply(LinearId::kDown, mid, sc.xn.data(), H);
  if (arch.has_norm(NormSlot::kMlpOut)) NormRows(k, sc.xn.data(), n, H, 1, H, L.norm_of(NormSlot::kMlpOut), eps);
  for (int64_t i = 0; i < n * H; ++i) x[i] += sc.xn[i];
}

}  // namespace

float EmbeddingScale(const LlamaSpec& spec) {
  if (!spec.architecture().embed_scale_sqrt_hidden) return 1.0f;
  return static_cast<float>(std::sqrt(static_cast<double>(spec.hidden)));
}

void Session::ForwardBlock(const int32_t* tokens, int64_t n, float* logits, bool all_logits, ThreadPool& pool) {
  const LlamaSpec& s = m_.spec_;
  const auto& k = kernels::Kernels();
  const int64_t H = s.hidden;
  // Token ids were checked by Forward.
  (void)m_.embed_.Lookup({tokens, static_cast<size_t>(n)}, x_.data());
  if (const float scale = EmbeddingScale(s); scale != 1.0f) {
    for (int64_t i = 0; i < n * H; ++i) x_[i] *= scale;
  }
  PrepareRope(s, sc_, pos_, n);
  for (int64_t l = 0; l < s.layers; ++l) {
    const int64_t layer_bytes = max_seq_ * sc_.kv_dim * KvElementBytes(kv_type_);
    KvLayer kv{kv_type_, k_cache_.data() + l * layer_bytes, v_cache_.data() + l * layer_bytes, nullptr, nullptr};
    if (KvHasScale(kv_type_)) {
      kv.ks = k_scale_.data() + l * max_seq_ * s.kv_heads;
      kv.vs = v_scale_.data() + l * max_seq_ * s.kv_heads;
    }
    ForwardLayer(s, m_.layers_[l], l, sc_, x_.data(), n, pos_, kv, max_seq_, pool, tap_);
  }
  pos_ += n;
  if (logits == nullptr) return;
  const int64_t first = all_logits ? 0 : n - 1, rows = n - first;
  for (int64_t t = first; t < n; ++t) k.rmsnorm(x_.data() + t * H, m_.final_norm_.data(), static_cast<float>(s.rms_eps), sc_.xn.data() + t * H, H);
  m_.lm_head_m_->Apply(*m_.lm_head_, {sc_.xn.data() + first * H, rows, H, H}, {logits, rows, s.vocab, s.vocab}, pool);
  if (s.final_softcap > 0) {
    const float cap = s.final_softcap;
    for (int64_t i = 0; i < rows * s.vocab; ++i) logits[i] = cap * std::tanh(logits[i] / cap);
  }
}

LayerRunner::LayerRunner(const LlamaSpec& spec, int64_t max_seq, int64_t max_block)
    : spec_(spec), max_seq_(max_seq), sc_(spec, max_seq, max_block) {
  k_cache_.resize(static_cast<size_t>(max_seq_ * sc_.kv_dim));
  v_cache_.resize(k_cache_.size());
}

Status LayerRunner::Run(const DecoderLayer& layer, int64_t layer_index, float* x, int64_t n, ThreadPool& pool,
                        const SiteTap* tap) {
  if (n > max_seq_) return MakeError("sequence of {} tokens exceeds the layer runner's {} positions", n, max_seq_);
  for (int64_t done = 0; done < n;) {
    const int64_t b = std::min(sc_.max_block, n - done);
    PrepareRope(spec_, sc_, done, b);
    const KvLayer kv{KvCacheType::kF32, reinterpret_cast<uint8_t*>(k_cache_.data()),
                     reinterpret_cast<uint8_t*>(v_cache_.data()), nullptr, nullptr};
    ForwardLayer(spec_, layer, layer_index, sc_, x + done * spec_.hidden, b, done, kv, max_seq_, pool, tap);
    done += b;
  }
  return Status::Ok();
}

}  // namespace qforge::model
