// A single-pass Adam step for float32 buffers, as an XLA FFI handler: the *prototype* behind
// benchmarks/bench_native.py. Not part of the jaxlearn package.
//
// Why it exists: XLA:CPU (jax 0.10) writes each output of a step in its own loop, so Adam's
// step re-reads g, m and v and moves about 10-11 float arrays per parameter instead of 7
// (read W, g, m, v; write W, m, v). This loop writes all three in one pass, in place (the
// caller aliases the outputs to the donated inputs). The formula is jaxlearn.adam's,
// operation for operation:
//   m <- m + (1 - b1) (g - m);  v <- b2 v + (1 - b2) g^2;  W <- W + (-lr_t m / (sqrt(v) + eps))
// where lr_t (the bias-corrected step) is computed by the caller.
//
// Build (bench_native.py does this): g++ -O3 -march=native -fno-math-errno -std=c++17 -shared
//   -fPIC -I$(python -c 'import jax.ffi; print(jax.ffi.include_dir())') adam_ffi.cc -o adam.so
// -fno-math-errno matters: without it std::sqrt may set errno, GCC will not vectorise the loop,
// and the kernel is 2x slower than XLA's three loops.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <thread>

#include "xla/ffi/api/ffi.h"

namespace ffi = xla::ffi;

namespace {

void AdamRange(float* w, const float* g, float* m, float* v, int64_t lo, int64_t hi, float lr_t,
               float b1, float b2, float eps) {
  const float one_minus_b1 = 1.0f - b1;
  const float one_minus_b2 = 1.0f - b2;
  for (int64_t i = lo; i < hi; ++i) {
    const float gi = g[i];
    const float mi = m[i] + one_minus_b1 * (gi - m[i]);
    const float vi = b2 * v[i] + one_minus_b2 * (gi * gi);
    m[i] = mi;
    v[i] = vi;
    w[i] = w[i] + (-lr_t * mi / (std::sqrt(vi) + eps));
  }
}

// scalars = [lr_t, b1, b2, eps]. Outputs alias inputs 0, 2, 3 (input_output_aliases); if XLA
// could not alias them, the inputs are copied to the outputs first.
ffi::Error AdamImpl(ffi::Buffer<ffi::F32> w, ffi::Buffer<ffi::F32> g, ffi::Buffer<ffi::F32> m,
                    ffi::Buffer<ffi::F32> v, ffi::Buffer<ffi::F32> scalars,
                    ffi::ResultBuffer<ffi::F32> w_out, ffi::ResultBuffer<ffi::F32> m_out,
                    ffi::ResultBuffer<ffi::F32> v_out) {
  const int64_t n = w.element_count();
  if (g.element_count() != n || m.element_count() != n || v.element_count() != n ||
      scalars.element_count() != 4) {
    return ffi::Error::InvalidArgument("adam_ffi: W, g, m, v must match; scalars must be [4]");
  }
  float* W = w_out->typed_data();
  float* M = m_out->typed_data();
  float* V = v_out->typed_data();
  if (W != w.typed_data()) std::copy_n(w.typed_data(), n, W);
  if (M != m.typed_data()) std::copy_n(m.typed_data(), n, M);
  if (V != v.typed_data()) std::copy_n(v.typed_data(), n, V);
  const float* G = g.typed_data();
  const float* s = scalars.typed_data();
  // Two halves on two threads for big buffers (this machine has 2 cores); one thread below
  // 64 Ki elements, where starting a thread costs more than it saves.
  if (n < (int64_t{1} << 16)) {
    AdamRange(W, G, M, V, 0, n, s[0], s[1], s[2], s[3]);
    return ffi::Error::Success();
  }
  const int64_t half = (n / 2) & ~int64_t{63};
  std::thread other([&] { AdamRange(W, G, M, V, half, n, s[0], s[1], s[2], s[3]); });
  AdamRange(W, G, M, V, 0, half, s[0], s[1], s[2], s[3]);
  other.join();
  return ffi::Error::Success();
}

}  // namespace

XLA_FFI_DEFINE_HANDLER_SYMBOL(JaxlearnAdamF32, AdamImpl,
                              ffi::Ffi::Bind()
                                  .Arg<ffi::Buffer<ffi::F32>>()  // W
                                  .Arg<ffi::Buffer<ffi::F32>>()  // g
                                  .Arg<ffi::Buffer<ffi::F32>>()  // m
                                  .Arg<ffi::Buffer<ffi::F32>>()  // v
                                  .Arg<ffi::Buffer<ffi::F32>>()  // [lr_t, b1, b2, eps]
                                  .Ret<ffi::Buffer<ffi::F32>>()  // W'
                                  .Ret<ffi::Buffer<ffi::F32>>()  // m'
                                  .Ret<ffi::Buffer<ffi::F32>>());  // v'
