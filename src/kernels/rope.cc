#include "kernels/rope.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <numbers>

namespace qforge::kernels {

namespace {

// HF modeling_rope_utils.get_mscale / yarn_get_mscale.
double YarnMscale(double scale, double mscale) {
  if (scale <= 1.0) return 1.0;
  return 0.1 * mscale * std::log(scale) + 1.0;
}

// Dimension index at which a frequency completes `num_rotations` turns over max_pos positions
// (YaRN paper, eq. for r(d); HF find_correction_dim).
double YarnCorrectionDim(double num_rotations, int dim, double base, int64_t max_pos) {
  return (dim * std::log(static_cast<double>(max_pos) / (num_rotations * 2.0 * std::numbers::pi))) /
         (2.0 * std::log(base));
}

}  // namespace

void RopeInvFreq(int rot_dim, double theta, const RopeScaling& s, int64_t seq_len, float* inv_freq,
                 float* attention_scale) {
  assert(rot_dim % 2 == 0);
  const int half = rot_dim / 2;
  double base = theta;
  *attention_scale = 1.0f;
  using Kind = RopeScaling::Kind;
  if (s.kind == Kind::kDynamic && s.original_max_position > 0 && seq_len > s.original_max_position) {
    // Dynamic NTK (HF _compute_dynamic_ntk_parameters): grow the base with the sequence length.
    const double ratio = s.factor * static_cast<double>(seq_len) / static_cast<double>(s.original_max_position) -
                         (s.factor - 1.0);
    base = theta * std::pow(ratio, static_cast<double>(rot_dim) / (rot_dim - 2));
  }
  for (int i = 0; i < half; ++i) {
    const double f = 1.0 / std::pow(base, (2.0 * i) / rot_dim);
    inv_freq[i] = static_cast<float>(f);
  }
  if (s.kind == Kind::kLinear) {
    for (int i = 0; i < half; ++i) inv_freq[i] = static_cast<float>(inv_freq[i] / s.factor);
  } else if (s.kind == Kind::kLlama3) {
    // HF _compute_llama3_parameters: keep high frequencies, divide low ones by factor, and
    // interpolate smoothly in between (wavelengths measured against the original context).
    const double old_ctx = static_cast<double>(s.original_max_position);
    const double low_wavelen = old_ctx / s.low_freq_factor;
    const double high_wavelen = old_ctx / s.high_freq_factor;
    for (int i = 0; i < half; ++i) {
      const double f = 1.0 / std::pow(theta, (2.0 * i) / rot_dim);
      const double wavelen = 2.0 * std::numbers::pi / f;
      double out;
      if (wavelen < high_wavelen) {
        out = f;
      } else if (wavelen > low_wavelen) {
        out = f / s.factor;
      } else {
        const double smooth = (old_ctx / wavelen - s.low_freq_factor) / (s.high_freq_factor - s.low_freq_factor);
        out = (1.0 - smooth) * f / s.factor + smooth * f;
      }
      inv_freq[i] = static_cast<float>(out);
    }
  } else if (s.kind == Kind::kYarn) {
    // HF _compute_yarn_parameters: blend interpolated (f / factor) and extrapolated (f) frequencies
    // with a linear ramp between the correction dims of beta_fast and beta_slow rotations.
    double att = s.attention_factor;
    if (att <= 0.0) {
      att = (s.mscale > 0.0 && s.mscale_all_dim > 0.0)
                ? YarnMscale(s.factor, s.mscale) / YarnMscale(s.factor, s.mscale_all_dim)
                : YarnMscale(s.factor, 1.0);
    }
    *attention_scale = static_cast<float>(att);
    const int64_t max_pos = s.original_max_position;
    double low = std::floor(YarnCorrectionDim(s.beta_fast, rot_dim, theta, max_pos));
    double high = std::ceil(YarnCorrectionDim(s.beta_slow, rot_dim, theta, max_pos));
    low = std::max(low, 0.0);
    high = std::min(high, static_cast<double>(rot_dim - 1));
    if (low == high) high += 0.001;  // avoid a zero-width ramp (as HF does)
    for (int i = 0; i < half; ++i) {
      const double f = 1.0 / std::pow(theta, (2.0 * i) / rot_dim);
      const double ramp = std::clamp((i - low) / (high - low), 0.0, 1.0);
      const double extrapolation = 1.0 - ramp;
      inv_freq[i] = static_cast<float>(f / s.factor * (1.0 - extrapolation) + f * extrapolation);
    }
  }
}

void RopeCosSin(const float* inv_freq, int rot_dim, int64_t pos, float attention_scale, float* cos_out,
                float* sin_out) {
  for (int i = 0; i < rot_dim / 2; ++i) {
    const double angle = static_cast<double>(pos) * static_cast<double>(inv_freq[i]);
    cos_out[i] = static_cast<float>(std::cos(angle) * attention_scale);
    sin_out[i] = static_cast<float>(std::sin(angle) * attention_scale);
  }
}

void ApplyRope(float* x, int n_heads, int head_dim, int rot_dim, RopeStyle style, const float* cos_t,
               const float* sin_t) {
  const int half = rot_dim / 2;
  for (int h = 0; h < n_heads; ++h) {
    float* v = x + static_cast<int64_t>(h) * head_dim;
    if (style == RopeStyle::kInterleaved) {
      for (int i = 0; i < half; ++i) {
        const float a = v[2 * i], b = v[2 * i + 1];
        v[2 * i] = a * cos_t[i] - b * sin_t[i];
        v[2 * i + 1] = a * sin_t[i] + b * cos_t[i];
      }
    } else {
      for (int i = 0; i < half; ++i) {
        const float a = v[i], b = v[i + half];
        v[i] = a * cos_t[i] - b * sin_t[i];
        v[i + half] = a * sin_t[i] + b * cos_t[i];
      }
    }
  }
}

}  // namespace qforge::kernels
