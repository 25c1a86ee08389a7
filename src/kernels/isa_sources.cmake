# The ISA-specific kernel files of the target architecture, each compiled with its own
# target flags and only called after runtime dispatch has checked the CPU
# (kernels/dispatch.cpp). Shared by the main build and the cross build (tests/cross).
function(frugal_add_isa_kernels target)
  set(dir ${CMAKE_CURRENT_FUNCTION_LIST_DIR})
  if(CMAKE_SYSTEM_PROCESSOR MATCHES "^(x86_64|AMD64|amd64)$")
    file(GLOB avx2_srcs CONFIGURE_DEPENDS ${dir}/x86/*_avx2.cpp)
    set_source_files_properties(${avx2_srcs} PROPERTIES COMPILE_OPTIONS "-mavx2;-mfma;-mf16c")
    file(GLOB avx512_srcs CONFIGURE_DEPENDS ${dir}/x86/*_avx512.cpp)
    # GCC 12's avx512fintrin.h reads _mm512_undefined_* values, which -Wuninitialized
    # reports inside the header (a false positive): silenced for these files only.
    set_source_files_properties(${avx512_srcs} PROPERTIES COMPILE_OPTIONS
      "-mavx2;-mfma;-mf16c;-mavx512f;-mavx512bw;-mavx512vl;-mavx512vnni;-mavx512dq;-Wno-uninitialized;-Wno-maybe-uninitialized")
    target_sources(${target} PRIVATE ${avx2_srcs} ${avx512_srcs})
  elseif(CMAKE_SYSTEM_PROCESSOR MATCHES "^(aarch64|arm64)$")
    # Advanced SIMD is baseline on AArch64; SDOT needs the Armv8.2 dot-product extension.
    file(GLOB neon_srcs CONFIGURE_DEPENDS ${dir}/arm/*_neon.cpp)
    file(GLOB dotprod_srcs CONFIGURE_DEPENDS ${dir}/arm/*_dotprod.cpp)
    set_source_files_properties(${dotprod_srcs} PROPERTIES COMPILE_OPTIONS "-march=armv8.2-a+dotprod")
    target_sources(${target} PRIVATE ${neon_srcs} ${dotprod_srcs})
  endif()
endfunction()
