// Rotary position embeddings (RoPE, Su et al. 2021) in both memory conventions, with the
// frequency-scaling variants of HF transformers' modeling_rope_utils.py (linear, dynamic NTK,
// llama3, yarn).
//
// Conventions (a head vector x of head_dim floats; the first rot_dim are rotated):
//  - kInterleaved (llama2.c, GGUF/ggml "normal" mode): pairs (x[2i], x[2i+1]) rotate by angle
//    pos * inv_freq[i];
//  - kHalf (HF rotate_half, GPT-NeoX): pairs (x[i], x[i + rot_dim/2]) rotate by pos * inv_freq[i].
// The two give identical results when the q/k weight rows are permuted accordingly (the HF
// conversion script does that permutation), which the model tests check.
//
// Scalar on purpose: RoPE is O(tokens * heads * head_dim) per layer, negligible beside the
// matmuls; cos/sin are computed once per token and reused by every layer and head.
#pragma once

#include <cstdint>

namespace qforge::kernels {

enum class RopeStyle : uint8_t { kInterleaved, kHalf };

struct RopeScaling {
  enum class Kind : uint8_t { kNone, kLinear, kDynamic, kLlama3, kYarn };
  Kind kind = Kind::kNone;
  double factor = 1.0;
  // Context length the model was trained with (llama3, yarn, dynamic: max_position_embeddings of
  // the unscaled model).
  int64_t original_max_position = 0;
  // llama3 (Llama 3.1 config defaults: 1 and 4).
  double low_freq_factor = 1.0, high_freq_factor = 4.0;
  // yarn (Peng et al. 2023; HF defaults 32 and 1). attention_factor <= 0 means derived from
  // factor (0.1 ln(factor) + 1), or from mscale / mscale_all_dim when those are > 0 (DeepSeek).
  double beta_fast = 32.0, beta_slow = 1.0;
  double attention_factor = 0.0, mscale = 0.0, mscale_all_dim = 0.0;
};

// inv_freq[i], i in [0, rot_dim/2), for a sequence of `seq_len` positions (only the dynamic
// variant depends on it). *attention_scale receives the factor cos/sin are multiplied by (1
// except for yarn). rot_dim must be even.
void RopeInvFreq(int rot_dim, double theta, const RopeScaling& scaling, int64_t seq_len, float* inv_freq,
                 float* attention_scale);

// cos/sin tables for one position: cos[i] = scale * cos(pos * inv_freq[i]), i in [0, rot_dim/2).
void RopeCosSin(const float* inv_freq, int rot_dim, int64_t pos, float attention_scale, float* cos_out,
                float* sin_out);

// Rotates the first rot_dim elements of each of n_heads vectors x[h * head_dim ...] in place.
void ApplyRope(float* x, int n_heads, int head_dim, int rot_dim, RopeStyle style, const float* cos_t,
               const float* sin_t);

}  // namespace qforge::kernels
