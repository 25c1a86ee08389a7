#include "tokenizer/file_reader.h"

#include <lzma.h>
#include <zlib.h>

#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>

#include "base/error.h"

namespace frugal {
namespace {

bool ends_with(const std::string& s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string read_plain(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("{}: cannot open the tokenizer file", path);
  std::ostringstream s;
  s << in.rdbuf();
  if (in.bad()) fail("{}: read error", path);
  return s.str();
}

std::string read_gzip(const std::string& path) {
  gzFile f = gzopen(path.c_str(), "rb");
  if (f == nullptr) fail("{}: cannot open the tokenizer file", path);
  std::unique_ptr<gzFile_s, int (*)(gzFile)> guard(f, gzclose);
  std::string out;
  char buf[1 << 16];
  while (true) {
    const int n = gzread(f, buf, sizeof(buf));
    if (n < 0) {
      int code = 0;
      fail("{}: corrupt gzip data: {}", path, gzerror(f, &code));
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

std::string read_xz(const std::string& path) {
  const std::string packed = read_plain(path);
  lzma_stream strm = LZMA_STREAM_INIT;
  if (lzma_stream_decoder(&strm, UINT64_MAX, LZMA_CONCATENATED) != LZMA_OK) {
    fail("{}: cannot start the xz decoder", path);
  }
  std::unique_ptr<lzma_stream, void (*)(lzma_stream*)> guard(&strm, lzma_end);
  strm.next_in = reinterpret_cast<const uint8_t*>(packed.data());
  strm.avail_in = packed.size();
  std::string out;
  uint8_t buf[1 << 16];
  while (true) {
    strm.next_out = buf;
    strm.avail_out = sizeof(buf);
    const lzma_ret ret = lzma_code(&strm, LZMA_FINISH);
    out.append(reinterpret_cast<const char*>(buf), sizeof(buf) - strm.avail_out);
    if (ret == LZMA_STREAM_END) break;
    if (ret != LZMA_OK) fail("{}: corrupt xz data (liblzma error {})", path, static_cast<int>(ret));
  }
  return out;
}

}  // namespace

std::string read_tokenizer_file(const std::string& path) {
  if (ends_with(path, ".gz")) return read_gzip(path);
  if (ends_with(path, ".xz")) return read_xz(path);
  return read_plain(path);
}

}  // namespace frugal
