// How a leaf's element is widened to the type the loops compute in and rounded back, for each
// storage type a kernel accepts (f32, f64, bf16, f16). Included by kernels.cc; every function is
// branch-free so that the loops over it still vectorise.
#ifndef JAXLEARN_OPTIM_NATIVE_STORAGE_H_
#define JAXLEARN_OPTIM_NATIVE_STORAGE_H_

#include <cstdint>
#include <cstring>

namespace jaxlearn_native {

inline uint32_t BitsOf(float x) {
  uint32_t u;
  std::memcpy(&u, &x, sizeof u);
  return u;
}
inline float FloatOf(uint32_t u) {
  float x;
  std::memcpy(&x, &u, sizeof x);
  return x;
}

// Branch-free `c ? a : b` (a mask).
inline uint32_t Select(bool c, uint32_t a, uint32_t b) {
  const uint32_t mask = 0u - static_cast<uint32_t>(c);
  return (a & mask) | (b & ~mask);
}

// T: the stored type; C: the compute type; kNarrow: whether the update is rounded to T before
// W + update (as the XLA path rounds it for bf16/f16 leaves).
//
// f32 and f64 are computed in their own type: loading and storing are the identity.
template <typename Float>
struct Wide {
  using T = Float;
  using C = Float;
  static constexpr bool kNarrow = false;
  static inline C Load(T x) { return x; }
  static inline T Store(C x) { return x; }
};
using F32 = Wide<float>;
using F64 = Wide<double>;

// bfloat16: the high half of a float32. Rounding to nearest even; NaN stays a (quiet) NaN.
struct BF16 {
  using T = uint16_t;
  using C = float;
  static constexpr bool kNarrow = true;
  static inline C Load(T x) { return FloatOf(uint32_t{x} << 16); }
  static inline T Store(C f) {
    const uint32_t u = BitsOf(f);
    const uint32_t rounded = (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
    const uint32_t quiet_nan = (u >> 16) | 0x40u;
    return static_cast<T>(Select((u & 0x7fffffffu) > 0x7f800000u, quiet_nan, rounded));
  }
};

// IEEE half. Integer-only widening (exact, and immune to the flush-denormals mode XLA's threads
// run in); rounding to nearest even after F. Giesen's float_to_half_fast3_rtne.
struct F16 {
  using T = uint16_t;
  using C = float;
  static constexpr bool kNarrow = true;
  static inline C Load(T h) {
    const uint32_t sign = uint32_t{h & 0x8000u} << 16;
    const uint32_t exp = (h >> 10) & 0x1fu;
    const uint32_t man = h & 0x3ffu;
    const uint32_t normal = ((exp + 112u) << 23) | (man << 13);
    const uint32_t special = 0x7f800000u | (man << 13);  // inf, NaN
    // Subnormal (or zero): man * 2^-24, exactly representable as a normal float.
    const uint32_t sub =
        BitsOf(static_cast<float>(static_cast<int32_t>(man)) * 5.9604644775390625e-8f);
    return FloatOf(Select(exp == 0, sub, Select(exp == 31, special, normal)) | sign);
  }
  static inline T Store(C x) {
    uint32_t f = BitsOf(x);
    const uint32_t sign = f & 0x80000000u;
    f ^= sign;
    const uint32_t inf_or_nan = Select(f > 0x7f800000u, 0x7e00u, 0x7c00u);
    // Subnormal result: adding 0.5 lines the f16 subnormal quantum up with the float ulp, so the
    // float addition rounds to nearest even for us.
    const uint32_t sub = BitsOf(FloatOf(f) + 0.5f) - 0x3f000000u;
    const uint32_t odd = (f >> 13) & 1u;
    const uint32_t normal = (f + 0xc8000fffu + odd) >> 13;  // rebias exponent (-112), round
    const uint32_t mag =
        Select(f >= 0x47800000u, inf_or_nan, Select(f < 0x38800000u, sub, normal));
    return static_cast<T>(mag | (sign >> 16));
  }
};

// The storage types in the order of the loop tables' columns.
enum Kind { kF32, kF64, kBF16, kF16, kNumKinds };

}  // namespace jaxlearn_native

#endif  // JAXLEARN_OPTIM_NATIVE_STORAGE_H_
