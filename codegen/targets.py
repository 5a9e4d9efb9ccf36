"""Target descriptions for the C-style renderer: everything that differs between C + OpenMP and CUDA,
as data (type names, qualifiers, loop headers, reduction epilogues, literal spellings).

`codegen.renderer` reads only these fields; adding a target is adding a `Target` value.

>>> C.ctype["f32"], CUDA.ctype["i64"]
('float', 'long long')
>>> C.math("sin", "f32"), CUDA.math("sin", "f64")
('sinf', 'sin')
"""

from __future__ import annotations

from dataclasses import dataclass

# Functions glibc's vector math library (libmvec) provides in SIMD form (glibc >= 2.35). Declaring
# them `omp declare simd` lets gcc vectorise loops that call them, without -ffast-math.
LIBMVEC = ("sin", "cos", "tan", "exp", "log", "pow", "expm1", "log1p", "sinh", "cosh", "tanh",
           "asin", "acos", "atan", "atan2", "erf")
_BINARY_MATH = frozenset({"pow", "atan2"})


def _simd_declarations() -> str:
    lines = ["/* SIMD variants from glibc's libmvec (linked with -lmvec): gcc vectorises loops calling these. */",
             "#ifdef DSL_LIBMVEC"]
    for fn in LIBMVEC:
        args = "double, double" if fn in _BINARY_MATH else "double"
        fargs = "float, float" if fn in _BINARY_MATH else "float"
        lines.append(f"#pragma omp declare simd notinbranch\nextern double {fn}({args});")
        lines.append(f"#pragma omp declare simd notinbranch\nextern float {fn}f({fargs});")
    lines.append("#endif")
    return "\n".join(lines)


def _nan_reductions() -> str:
    lines = []
    for ctype in ("double", "float"):
        for name, cmp, sign in (("dsl_max", ">", "-"), ("dsl_min", "<", "")):
            lines.append(f"#pragma omp declare reduction({name} : {ctype} : \\\n"
                         f"    omp_out = (omp_in {cmp} omp_out || omp_in != omp_in) ? omp_in : omp_out) \\\n"
                         f"    initializer(omp_priv = {sign}INFINITY)")
    return "\n".join(lines)


C_PRELUDE = f"""#include <math.h>
#include <stdint.h>

{_simd_declarations()}

/* NaN-propagating max/min reductions (NumPy's semantics; OpenMP's built-in max/min drop NaN). */
{_nan_reductions()}

/* Work below this many elements runs on one thread (starting a team costs more than it saves). */
#define DSL_PARALLEL_MIN 32768
"""

CUDA_PRELUDE = """/* Block-wide reductions: warp shuffles, then one value per warp through shared memory. */
#define DSL_FULL_MASK 0xffffffffu

template <typename T> __device__ __forceinline__ T dsl_combine_add(T a, T b) { return a + b; }
template <typename T> __device__ __forceinline__ T dsl_combine_mul(T a, T b) { return a * b; }
template <typename T> __device__ __forceinline__ T dsl_combine_max(T a, T b) { return (b > a || b != b) ? b : a; }
template <typename T> __device__ __forceinline__ T dsl_combine_min(T a, T b) { return (b < a || b != b) ? b : a; }

template <typename T, T (*op)(T, T)>
__device__ __forceinline__ T dsl_block_reduce(T v, T identity) {
    __shared__ T warp_values[32];
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    for (int offset = 16; offset > 0; offset >>= 1) v = op(v, __shfl_down_sync(DSL_FULL_MASK, v, offset));
    __syncthreads();  /* the shared slots may still be read by a previous reduction in this kernel */
    if (lane == 0) warp_values[warp] = v;
    __syncthreads();
    const int warps = (blockDim.x + 31) >> 5;
    v = (threadIdx.x < warps) ? warp_values[lane] : identity;
    if (warp == 0)
        for (int offset = 16; offset > 0; offset >>= 1) v = op(v, __shfl_down_sync(DSL_FULL_MASK, v, offset));
    return v;
}

/* Stage two of the deterministic mode: one block combines the per-block partial results in a fixed order. */
#define DSL_FINISH(NAME, T, OP, IDENTITY) \\
extern "C" __global__ void NAME(const T* __restrict__ partials, long long blocks, T* __restrict__ out, T scale) { \\
    T v = IDENTITY; \\
    for (long long b = threadIdx.x; b < blocks; b += blockDim.x) v = OP<T>(v, partials[b]); \\
    v = dsl_block_reduce<T, OP<T>>(v, IDENTITY); \\
    if (threadIdx.x == 0) out[0] = v * scale; \\
}
DSL_FINISH(dsl_finish_sum_f64, double, dsl_combine_add, 0.0)
DSL_FINISH(dsl_finish_prod_f64, double, dsl_combine_mul, 1.0)
DSL_FINISH(dsl_finish_max_f64, double, dsl_combine_max, -__longlong_as_double(0x7ff0000000000000ULL))
DSL_FINISH(dsl_finish_min_f64, double, dsl_combine_min, __longlong_as_double(0x7ff0000000000000ULL))
DSL_FINISH(dsl_finish_sum_f32, float, dsl_combine_add, 0.0f)
DSL_FINISH(dsl_finish_prod_f32, float, dsl_combine_mul, 1.0f)
DSL_FINISH(dsl_finish_max_f32, float, dsl_combine_max, -__int_as_float(0x7f800000))
DSL_FINISH(dsl_finish_min_f32, float, dsl_combine_min, __int_as_float(0x7f800000))
"""


@dataclass(frozen=True)
class Target:
    """What the renderer needs to know about a target language."""

    name: str
    prelude: str
    ctype: dict[str, str]
    index: str                 # the loop index type
    kernel_prefix: str         # before `void name(...)`
    restrict: str
    inf: dict[str, str]        # +infinity per float dtype
    nan: dict[str, str]
    # elementwise loop header over `i` in [0, {n}) (with `{reductions}` clauses for C)
    loop: str
    # the loop for one thread's share of the outputs of a partial reduction
    outer_loop: str
    inner_simd: str            # pragma before a partial reduction's inner loop (may be empty)
    device_reduce: bool        # reductions end with a block-level epilogue (CUDA) instead of OpenMP clauses
    peel: bool                 # split off a stencil's boundary iterations so the interior loop has no guards
    rows: bool                 # rank >= 2: rows in parallel, a SIMD loop along the last axis (no per-element div/mod)
    comment: str

    def math(self, fn: str, dtype: str) -> str:
        """The math function for a dtype: `sinf` for f32 (no promotion to double), `sin` for f64."""
        return fn + "f" if dtype == "f32" else fn


C = Target(
    name="c",
    prelude=C_PRELUDE,
    ctype={"f32": "float", "f64": "double", "i32": "int32_t", "i64": "int64_t", "bool": "uint8_t"},
    index="int64_t",
    kernel_prefix="void",
    restrict="restrict",
    inf={"f32": "INFINITY", "f64": "((double)INFINITY)"},
    nan={"f32": "NAN", "f64": "((double)NAN)"},
    loop="#pragma omp parallel for simd schedule(static) if(parallel: {n} >= DSL_PARALLEL_MIN){reductions}\n"
         "for (int64_t i = {start}; i < {end}; i++)",
    outer_loop="#pragma omp parallel for schedule(static) if({n} * {inner} >= DSL_PARALLEL_MIN){reductions}\n"
               "for (int64_t o = 0; o < {n}; o++)",
    inner_simd="#pragma omp simd{reductions}",
    device_reduce=False,
    peel=True,
    rows=True,
    comment="C with OpenMP, compiled by the system C compiler; called through ctypes",
)

CUDA = Target(
    name="cuda",
    prelude=CUDA_PRELUDE,
    ctype={"f32": "float", "f64": "double", "i32": "int", "i64": "long long", "bool": "unsigned char"},
    index="long long",
    kernel_prefix='extern "C" __global__ void',
    restrict="__restrict__",
    inf={"f32": "__int_as_float(0x7f800000)", "f64": "__longlong_as_double(0x7ff0000000000000ULL)"},
    nan={"f32": "__int_as_float(0x7fc00000)", "f64": "__longlong_as_double(0x7ff8000000000000ULL)"},
    # grid-stride: any grid size covers any n; 64-bit indices so n may exceed 2^31
    loop="for (long long i = {start} + (long long)blockIdx.x * blockDim.x + threadIdx.x; i < {end}; "
         "i += (long long)blockDim.x * gridDim.x)",
    outer_loop="for (long long o = (long long)blockIdx.x * blockDim.x + threadIdx.x; o < {n}; "
               "o += (long long)blockDim.x * gridDim.x)",
    inner_simd="",
    device_reduce=True,
    peel=False,
    rows=False,
    comment="CUDA, compiled by NVRTC through cupy.RawModule",
)

TARGETS = {"c": C, "cuda": CUDA}
