// Include first in every src/quant translation unit.
//
// Bit-exactness with ggml's reference needs each a*b+c rounded twice, as written. GCC
// fuses such expressions into one fused multiply-add whenever the target has FMA (even
// in ISO C++ mode), so a build with -march=native would otherwise quantize Q4_0, Q4_1
// and Q8_K differently from ggml and change NaN payloads; this was measured against
// ggml with this very code. The pragmas apply to every function defined after them in
// the translation unit, including the inline fp16 conversions of base/half.h. (Clang
// honours its pragma unless the build forces -ffp-contract=fast, which overrides it.)
#pragma once

#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif
