// Single-pass CPU kernels for jaxlearn's six update rules, as XLA FFI handlers.
//
// Why: XLA:CPU writes each output of a fused optimizer step in its own loop, so Adam's step
// re-reads g, m and v and moves about 10-11 arrays per parameter instead of the 7 it needs
// (read W, g, m, v; write W, m, v). These handlers make one pass per leaf that reads W, g and
// the state once and writes W and the state once, in place (the Python side aliases every
// output to its donated input), vectorised, on XLA's own intra-op thread pool.
//
// One handler per rule updates a group of leaves in one call:
//   args:    scalars (f32, or f64 for f64 leaves; R rows of the rule's scalars, row r for the
//            r-th of R equal parts of every leaf: R > 1 under vmap over configurations),
//            W_0..W_{k-1}, g_0..g_{k-1},
//            then each state slot's k leaves (0, 1 or 2 slots);
//   results: W'_0..W'_{k-1}, then each slot's k new leaves (aliased to the inputs).
// Within a leaf, W, g and the slots share one storage type (f32, f64, bf16 or f16); leaves of
// one call may differ. The Python side (jaxlearn/optim/native/__init__.py) only calls a handler
// for the cases it covers and keeps the XLA path for everything else.
//
// The arithmetic is the rules' Python `leaf` functions operation for operation, including the
// fused multiply-adds XLA:CPU's LLVM backend forms on a machine with FMA (see loops.inc), so on
// such a machine the results are bit-identical to the jitted XLA path.

// A Python extension module too (an empty one, limited API), so that tools that import every
// module of the package (pkgutil, Sphinx, pydoc) can import this one; jaxlearn itself opens it
// with ctypes (jaxlearn/optim/native/_library.py).
#define PY_SSIZE_T_CLEAN
#define Py_LIMITED_API 0x030A0000
#include <Python.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "xla/ffi/api/ffi.h"

namespace ffi = xla::ffi;

namespace {

// Rules and storage kinds; the Python side uses the same rule names (kHandlers below).
enum Rule { kSgd, kMomentum, kNesterov, kAdagrad, kRmsprop, kAdam, kNumRules };
enum Kind { kF32, kF64, kBF16, kF16, kNumKinds };
constexpr int kSlots[kNumRules] = {0, 1, 1, 1, 1, 2};
constexpr int kScalars[kNumRules] = {1, 2, 2, 2, 3, 4};

// One rule's loop over elements [lo, hi) of one leaf, in place.
using LoopFn = void (*)(const void* scalars, void* w, const void* g, void* const* slots,
                        int64_t lo, int64_t hi);

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

// Branch-free `c ? a : b` (a mask), so loops with it still vectorise.
inline uint32_t Select(bool c, uint32_t a, uint32_t b) {
  const uint32_t mask = 0u - static_cast<uint32_t>(c);
  return (a & mask) | (b & ~mask);
}

// ---- storage types: how a leaf's element is widened to the compute type and rounded back ----

struct F32 {
  using T = float;
  using C = float;
  static constexpr bool kNarrow = false;
  static inline C Load(T x) { return x; }
  static inline T Store(C x) { return x; }
};

struct F64 {
  using T = double;
  using C = double;
  static constexpr bool kNarrow = false;
  static inline C Load(T x) { return x; }
  static inline T Store(C x) { return x; }
};

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
// run in); rounding to nearest even after F. Giesen's float_to_half_fast3_rtne. Both are
// branch-free so the loops still vectorise.
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

// ---- the loops, once per instruction set ----

namespace isa_base {
#if defined(__aarch64__) || defined(_M_ARM64)
#define JL_FMA 1  // every AArch64 core has FMA, and XLA contracts there too
#else
#define JL_FMA 0
#endif
#include "loops.inc"
#undef JL_FMA
}  // namespace isa_base

#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
#define JL_HAVE_AVX2_FMA 1
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx2,fma")
#endif
namespace isa_avx2 {
#define JL_FMA 1
#include "loops.inc"
#undef JL_FMA
}  // namespace isa_avx2
#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif
#endif

struct Isa {
  const LoopFn (*table)[kNumKinds];
  const char* name;
  bool fma;
};

// Chosen once: AVX2 + FMA where the CPU has both (the same contraction as XLA:CPU there),
// else the baseline build (SSE2 on x86-64, no contraction: XLA does not contract without FMA).
const Isa& ChosenIsa() {
  static const Isa isa = [] {
#if defined(JL_HAVE_AVX2_FMA)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
      return Isa{isa_avx2::kTable, "x86-64 AVX2+FMA", true};
    }
    return Isa{isa_base::kTable, "x86-64 baseline (SSE2)", false};
#elif defined(__aarch64__) || defined(_M_ARM64)
    return Isa{isa_base::kTable, "AArch64 NEON+FMA", true};
#else
    return Isa{isa_base::kTable, "portable C++", false};
#endif
  }();
  return isa;
}

// ---- one call's work, split into chunks over the leaves laid end to end ----

struct Leaf {
  LoopFn fn;
  void* w;
  const void* g;
  void* slots[2];
  int64_t begin;  // offset of this leaf in the concatenation of the call's leaves
  int64_t n;
};

// 64 Ki elements (256 KiB of f32) per chunk: large enough that claiming one (an atomic add) is
// free, small enough that two to a few dozen threads balance on a ResNet-sized tree.
constexpr int64_t kChunk = int64_t{1} << 16;

// Shared by the calling thread and the tasks it schedules. Held by shared_ptr: a task that the
// pool starts after all chunks are done touches nothing but this object, which it keeps alive.
struct Job {
  // rows x (the rule's scalars): row r's scalars apply to the r-th of `rows` equal, contiguous
  // parts of every leaf (a vmap over configurations: leaves are (rows, ...) row-major).
  const char* scalars = nullptr;
  int64_t rows = 1;
  size_t row_bytes = 0;
  std::vector<Leaf> leaves;
  int64_t total = 0;
  int64_t num_chunks = 0;
  std::atomic<int64_t> next{0};
  std::atomic<int64_t> done{0};
  std::mutex mu;
  std::condition_variable all_done;

  void RunChunk(int64_t c) const {
    const int64_t lo = c * kChunk;
    const int64_t hi = std::min(total, lo + kChunk);
    // The first leaf that ends after lo.
    auto it = std::upper_bound(leaves.begin(), leaves.end(), lo,
                               [](int64_t x, const Leaf& l) { return x < l.begin + l.n; });
    for (; it != leaves.end() && it->begin < hi; ++it) {
      const int64_t a = std::max(lo, it->begin) - it->begin;
      const int64_t b = std::min(hi, it->begin + it->n) - it->begin;
      if (a >= b) continue;
      if (rows == 1) {
        it->fn(scalars, it->w, it->g, it->slots, a, b);
        continue;
      }
      const int64_t row_len = it->n / rows;
      for (int64_t r = a / row_len; r * row_len < b; ++r) {
        const int64_t ra = std::max(a, r * row_len), rb = std::min(b, (r + 1) * row_len);
        it->fn(scalars + r * row_bytes, it->w, it->g, it->slots, ra, rb);
      }
    }
  }

  void Work() {
    for (;;) {
      const int64_t c = next.fetch_add(1, std::memory_order_relaxed);
      if (c >= num_chunks) return;
      RunChunk(c);
      if (done.fetch_add(1, std::memory_order_acq_rel) + 1 == num_chunks) {
        std::lock_guard<std::mutex> lock(mu);
        all_done.notify_all();
      }
    }
  }
};

ffi::DataType ScalarTypeFor(ffi::DataType t) {
  return t == ffi::DataType::F64 ? ffi::DataType::F64 : ffi::DataType::F32;
}

int KindOf(ffi::DataType t) {
  switch (t) {
    case ffi::DataType::F32:
      return kF32;
    case ffi::DataType::F64:
      return kF64;
    case ffi::DataType::BF16:
      return kBF16;
    case ffi::DataType::F16:
      return kF16;
    default:
      return -1;
  }
}

size_t ByteWidth(int kind) { return kind == kF64 ? 8 : (kind == kF32 ? 4 : 2); }

ffi::Error Step(Rule rule, ffi::ThreadPool pool, ffi::AnyBuffer scalars, ffi::RemainingArgs args,
                ffi::RemainingRets rets) {
  const int ns = kSlots[rule];
  if (args.size() % (2 + ns) != 0) {
    return ffi::Error::InvalidArgument("jaxlearn native: wrong number of arguments");
  }
  const size_t k = args.size() / (2 + ns);
  if (rets.size() != k * (1 + ns)) {
    return ffi::Error::InvalidArgument("jaxlearn native: wrong number of results");
  }
  const int64_t count = static_cast<int64_t>(scalars.element_count());
  if (count == 0 || count % kScalars[rule] != 0 ||
      (scalars.element_type() != ffi::DataType::F32 &&
       scalars.element_type() != ffi::DataType::F64)) {
    return ffi::Error::InvalidArgument("jaxlearn native: wrong scalars (count or dtype)");
  }
  const Isa& isa = ChosenIsa();
  auto job = std::make_shared<Job>();
  job->scalars = static_cast<const char*>(scalars.untyped_data());
  job->rows = count / kScalars[rule];
  job->row_bytes = kScalars[rule] * (scalars.element_type() == ffi::DataType::F64 ? 8 : 4);
  job->leaves.reserve(k);
  for (size_t i = 0; i < k; ++i) {
    auto w = args.get<ffi::AnyBuffer>(i);
    auto g = args.get<ffi::AnyBuffer>(k + i);
    auto w_out = rets.get<ffi::AnyBuffer>(i);
    if (!w || !g || !w_out) {
      return ffi::Error::InvalidArgument("jaxlearn native: bad W/g buffer");
    }
    const ffi::DataType type = w->element_type();
    const int kind = KindOf(type);
    const int64_t n = static_cast<int64_t>(w->element_count());
    if (kind < 0 || g->element_type() != type || scalars.element_type() != ScalarTypeFor(type) ||
        static_cast<int64_t>(g->element_count()) != n || n % job->rows != 0) {
      return ffi::Error::InvalidArgument(
          "jaxlearn native: W, g and scalars must match (types, sizes, scalar rows)");
    }
    Leaf leaf{isa.table[rule][kind], (*w_out)->untyped_data(), g->untyped_data(), {}, 0, n};
    // The outputs are aliased to the inputs, so these copies never run; they keep the handler
    // correct if a caller does not alias.
    if (leaf.w != w->untyped_data()) {
      std::memcpy(leaf.w, w->untyped_data(), n * ByteWidth(kind));
    }
    for (int j = 0; j < ns; ++j) {
      auto s = args.get<ffi::AnyBuffer>((2 + j) * k + i);
      auto s_out = rets.get<ffi::AnyBuffer>((1 + j) * k + i);
      if (!s || !s_out || s->element_type() != type ||
          static_cast<int64_t>(s->element_count()) != n) {
        return ffi::Error::InvalidArgument("jaxlearn native: state leaves must match W");
      }
      leaf.slots[j] = (*s_out)->untyped_data();
      if (leaf.slots[j] != s->untyped_data()) {
        std::memcpy(leaf.slots[j], s->untyped_data(), n * ByteWidth(kind));
      }
    }
    leaf.begin = job->total;
    job->total += n;
    if (n > 0) job->leaves.push_back(leaf);
  }
  job->num_chunks = (job->total + kChunk - 1) / kChunk;
  if (job->num_chunks <= 1) {
    if (job->num_chunks == 1) job->RunChunk(0);
    return ffi::Error::Success();
  }
  // The calling thread works too, so schedule one task fewer than the pool has threads (if the
  // pool cannot run a task it runs inline, which is still correct).
  const int64_t helpers =
      std::min<int64_t>(std::max<int64_t>(pool.num_threads(), 1), job->num_chunks) - 1;
  for (int64_t t = 0; t < helpers; ++t) {
    pool.Schedule([job] { job->Work(); });
  }
  job->Work();
  std::unique_lock<std::mutex> lock(job->mu);
  job->all_done.wait(lock, [&] {
    return job->done.load(std::memory_order_acquire) == job->num_chunks;
  });
  return ffi::Error::Success();
}

template <Rule R>
ffi::Error StepFor(ffi::ThreadPool pool, ffi::AnyBuffer scalars, ffi::RemainingArgs args,
                   ffi::RemainingRets rets) {
  return Step(R, pool, scalars, args, rets);
}

}  // namespace

#define JL_HANDLER(SYMBOL, RULE)                                                  \
  XLA_FFI_DEFINE_HANDLER_SYMBOL(SYMBOL, StepFor<RULE>, ffi::Ffi::Bind()          \
                                                           .Ctx<ffi::ThreadPool>() \
                                                           .Arg<ffi::AnyBuffer>()  \
                                                           .RemainingArgs()        \
                                                           .RemainingRets())

JL_HANDLER(JaxlearnSgdStep, kSgd);
JL_HANDLER(JaxlearnMomentumStep, kMomentum);
JL_HANDLER(JaxlearnNesterovStep, kNesterov);
JL_HANDLER(JaxlearnAdagradStep, kAdagrad);
JL_HANDLER(JaxlearnRmspropStep, kRmsprop);
JL_HANDLER(JaxlearnAdamStep, kAdam);

// "<isa>;fma=<0|1>": what the loader reports in jaxlearn.fast.native_status(). `fma` says
// whether the loops contract as XLA:CPU does on an FMA machine (then results are bit-identical).
extern "C" const char* JaxlearnKernelsInfo() {
  static const std::string info = [] {
    const Isa& isa = ChosenIsa();
    return std::string(isa.name) + ";fma=" + (isa.fma ? "1" : "0");
  }();
  return info.c_str();
}

static struct PyModuleDef kModule = {
    PyModuleDef_HEAD_INIT, "_kernels",
    "jaxlearn's compiled optimizer kernels: XLA FFI handlers, registered by "
    "jaxlearn.optim.native (this module itself defines nothing).",
    -1, nullptr, nullptr, nullptr, nullptr, nullptr};

PyMODINIT_FUNC PyInit__kernels(void) { return PyModule_Create(&kModule); }
