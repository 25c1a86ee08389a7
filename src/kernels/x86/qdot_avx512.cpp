// The AVX-512 (F/BW/VL + VNNI) integer dot table. Entries without an AVX-512 version are
// the AVX2 ones (every CPU with these features has AVX2).
#include "kernels/qdot.h"

namespace frugal {

const QDotTable& avx2_qdot_table();  // qdot_avx2.cpp

const QDotTable& avx512_qdot_table() {
  static const QDotTable table = [] {
    QDotTable t = avx2_qdot_table();
    t.isa = "avx512";
    return t;
  }();
  return table;
}

}  // namespace frugal
