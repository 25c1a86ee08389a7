#include "tools/quantize.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <regex>
#include <thread>

#include "base/error.h"
#include "base/thread_pool.h"
#include "format/gguf.h"
#include "quant/quant.h"
#include "tools/imatrix.h"
#include "tools/model_source.h"
#include "tools/quant_mix.h"

namespace frugal {

namespace {

namespace fs = std::filesystem;

bool is_float(TensorType t) { return t == TensorType::F32 || t == TensorType::F16 || t == TensorType::BF16; }

bool writable(TensorType t) { return can_quantize(t) && t != TensorType::Q8_1 && t != TensorType::Q8_K; }

TensorType parse_single_type(const std::string& what, const std::string& name) {
  const auto t = parse_tensor_type(name);
  if (!t || !writable(*t)) {
    fail("{} '{}' is not a tensor type frugal writes (F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K, Q3_K, "
         "Q4_K, Q5_K, Q6_K)",
         what, name);
  }
  return *t;
}

// Refuses to write over the input, and over anything without `overwrite`.
void check_output_path(const QuantizeOptions& opt) {
  if (opt.output.empty()) fail("quantize: no output file given");
  std::error_code ec;
  const fs::path out(opt.output), in(opt.input);
  if (fs::exists(out, ec)) {
    if (fs::equivalent(out, in, ec)) fail("{}: the output is the input file; choose another output name", opt.output);
    if (fs::is_directory(out, ec)) fail("{}: the output is a directory; give a file name", opt.output);
    if (!opt.overwrite && !opt.dry_run) fail("{}: the output file exists (pass --force to overwrite it)", opt.output);
  } else if (fs::weakly_canonical(out, ec) == fs::weakly_canonical(in, ec)) {
    fail("{}: the output is the input file; choose another output name", opt.output);
  }
  const fs::path dir = out.has_parent_path() ? out.parent_path() : fs::path(".");
  if (!opt.dry_run && !fs::is_directory(dir, ec)) fail("{}: the output's directory {} does not exist", opt.output, dir.string());
}

struct Override {
  std::string pattern;
  std::regex regex;
  TensorType type;
};

std::vector<Override> compile_overrides(const QuantizeOptions& opt) {
  std::vector<Override> out;
  for (const auto& [pattern, type] : opt.tensor_types) {
    Override o{pattern, {}, parse_single_type(fmt::format("--tensor-type {}={}: type", pattern, type), type)};
    try {
      o.regex = std::regex(pattern);
    } catch (const std::regex_error& e) {
      fail("--tensor-type {}={}: '{}' is not a valid regular expression: {}", pattern, type, pattern, e.what());
    }
    out.push_back(std::move(o));
  }
  return out;
}

int64_t metadata_int(const GgufMetadata& md, const std::string& key, int64_t fallback) {
  return md.get_int(key).value_or(fallback);
}

// The most frequent matrix type, as a llama.cpp file type (for exact per-tensor tables).
uint32_t guessed_ftype(const std::vector<QuantizedTensor>& tensors) {
  std::map<TensorType, uint64_t> bytes;
  for (const auto& t : tensors) {
    if (t.ne.size() >= 2) bytes[t.type] += t.bytes;
  }
  TensorType best = TensorType::F32;
  uint64_t most = 0;
  for (const auto& [type, n] : bytes) {
    if (n > most) {
      most = n;
      best = type;
    }
  }
  return llama_ftype(FileType{best, MixRule::Standard});
}

}  // namespace

std::map<std::string, int> QuantizeReport::type_counts() const {
  std::map<std::string, int> out;
  for (const auto& t : tensors) ++out[std::string(type_name(t.type))];
  return out;
}

std::map<std::string, std::vector<float>> read_importance_file(const std::string& path) {
  return read_imatrix(path).means();
}

QuantizeReport quantize_model(const QuantizeOptions& opt) {
  const auto t0 = std::chrono::steady_clock::now();
  QuantizeReport report;
  check_output_path(opt);

  const bool exact_only = opt.type == "auto" || opt.type.empty();
  if (exact_only && opt.exact_types.empty()) {
    fail("quantize: give a file type ({}); 'auto' needs a per-tensor table", file_type_names());
  }
  FileType ft{TensorType::Q8_0, MixRule::Standard};
  if (!exact_only) {
    const auto parsed = parse_file_type(opt.type, opt.pure);
    if (!parsed) fail("quantize: file type '{}' is not supported (supported: {})", opt.type, file_type_names());
    ft = *parsed;
  }
  const uint32_t mix_ftype = llama_ftype(ft);
  if (opt.pure) ft.rule = MixRule::Pure;  // llama-quantize --pure: the file type keeps its name
  const std::vector<Override> overrides = compile_overrides(opt);
  const std::optional<TensorType> output_type =
      opt.output_tensor_type ? std::optional(parse_single_type("--output-tensor-type", *opt.output_tensor_type))
                             : std::nullopt;
  const std::optional<TensorType> embd_type =
      opt.token_embedding_type
          ? std::optional(parse_single_type("--token-embedding-type", *opt.token_embedding_type))
          : std::nullopt;

  std::map<std::string, std::vector<float>> imatrix_storage;
  const std::map<std::string, std::vector<float>>* importance = &opt.importance;
  if (importance->empty() && !opt.imatrix.empty()) {
    imatrix_storage = read_importance_file(opt.imatrix);
    importance = &imatrix_storage;
  }
  const bool has_imatrix = !importance->empty();

  const std::unique_ptr<ModelSource> src = open_model_source(opt.input);
  report.input_kind = src->kind;
  const GgufMetadata& md = src->metadata;
  const std::string arch = md.get_string("general.architecture").value_or("");
  report.architecture = arch;
  for (const auto& [name, types] : opt.exact_types) {
    if (src->find(name) == nullptr) fail("quantize: the per-tensor table names '{}', which {} does not have", name, opt.input);
  }

  MixContext ctx;
  ctx.n_layer = static_cast<int>(metadata_int(md, arch + ".block_count", 1));
  const int64_t n_head = metadata_int(md, arch + ".attention.head_count", 1);
  const int64_t n_head_kv = metadata_int(md, arch + ".attention.head_count_kv", n_head);
  ctx.n_gqa = n_head_kv > 0 ? static_cast<int>(n_head / n_head_kv) : 1;
  ctx.tied_embeddings = src->find("output.weight") == nullptr;
  ctx.has_imatrix = has_imatrix;

  // Choose every tensor's type first, so errors come before any writing.
  std::vector<const std::vector<float>*> weights(src->tensors.size(), nullptr);
  size_t used_importance = 0;
  for (size_t i = 0; i < src->tensors.size(); ++i) {
    const SourceTensor& s = src->tensors[i];
    if (s.ne.empty() || s.ne[0] % traits(s.type).block_size != 0) {
      fail("{}: tensor '{}' row length does not fit its type {}", opt.input, s.name, type_name(s.type));
    }
    int layer = -1;
    const TensorRole role = tensor_role(s.name, static_cast<int>(s.ne.size()), layer);
    ctx.layer = std::max(layer, 0);
    ctx.row_length = s.ne[0];
    TensorType type = s.type;
    if (const auto it = opt.exact_types.find(s.name); it != opt.exact_types.end()) {
      type = it->second;
      if (!writable(type)) fail("quantize: the per-tensor table gives '{}' type {}, which frugal cannot write", s.name, type_name(type));
      if (s.ne[0] % traits(type).block_size != 0) {
        fail("quantize: the per-tensor table gives '{}' type {}, whose block of {} does not divide its row length {}",
             s.name, type_name(type), traits(type).block_size, s.ne[0]);
      }
    } else if (role == TensorRole::Vector) {
      // Norms, biases and other 1-D tensors stay as they are (F32 when converting from
      // Hugging Face, as llama.cpp's converter writes them).
      if (src->kind != "gguf" && is_float(s.type)) type = TensorType::F32;
    } else {
      type = choose_tensor_type(ft, role, ctx);
      std::optional<TensorType> user;
      for (const auto& o : overrides) {
        if (std::regex_search(s.name, o.regex)) {
          user = o.type;
          break;
        }
      }
      if (embd_type && role == TensorRole::TokenEmbd) user = embd_type;
      else if (output_type && (role == TensorRole::Output || (ctx.tied_embeddings && role == TensorRole::TokenEmbd))) {
        user = output_type;
      }
      if (user) {
        type = fallback_type(*user, s.ne[0]);
        if (type != *user) {
          report.warnings.push_back(fmt::format("{}: row length {} is not a multiple of {}'s block {}; using {}", s.name,
                                                s.ne[0], type_name(*user), traits(*user).block_size, type_name(type)));
        }
      }
    }
    if (type != s.type && !is_float(s.type)) {
      if (!opt.allow_requantize) {
        fail("{}: tensor '{}' is already {}; quantizing it again to {} loses quality (pass --allow-requantize to do it anyway)",
             opt.input, s.name, type_name(s.type), type_name(type));
      }
      if (!can_dequantize(s.type)) fail("{}: tensor '{}' has type {}, which frugal cannot read", opt.input, s.name, type_name(s.type));
      report.warnings.push_back(fmt::format("{}: requantizing {} -> {}", s.name, type_name(s.type), type_name(type)));
    }
    QuantizedTensor q;
    q.name = s.name;
    q.source_type = s.type;
    q.type = type;
    q.ne = s.ne;
    q.n_elements = s.n_elements();
    q.source_bytes = s.nbytes();
    q.bytes = row_bytes(type, s.ne[0]) * static_cast<uint64_t>(s.n_rows());
    if (has_imatrix && type != s.type && !is_float(type)) {
      if (const auto it = importance->find(s.name); it != importance->end()) {
        if (static_cast<int64_t>(it->second.size()) != s.ne[0]) {
          fail("{}: importance of '{}' has {} values, the tensor's rows have {}", opt.imatrix.empty() ? "importance" : opt.imatrix,
               s.name, it->second.size(), s.ne[0]);
        }
        weights[i] = &it->second;
        q.used_importance = true;
        ++used_importance;
      } else if (role != TensorRole::Vector) {
        report.warnings.push_back(fmt::format("{}: no importance data; quantized without it", s.name));
      }
    }
    report.n_elements += q.n_elements;
    report.source_bytes += q.source_bytes;
    report.bytes += q.bytes;
    report.tensors.push_back(std::move(q));
  }
  const uint32_t ftype = exact_only ? guessed_ftype(report.tensors) : mix_ftype;
  report.file_type = llama_ftype_name(ftype);
  if (opt.dry_run) {
    report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return report;
  }

  GgufWriter w;
  for (const auto& [key, value] : md.entries()) {
    if (key == "general.file_type" || key == "general.quantization_version" || key.starts_with("quantize.")) continue;
    w.set(key, value);
  }
  w.set("general.quantization_version", GgufValue::u32(2));
  w.set("general.file_type", GgufValue::u32(ftype));
  if (has_imatrix) {
    if (!opt.imatrix.empty()) w.set("quantize.imatrix.file", GgufValue::str(opt.imatrix));
    w.set("quantize.imatrix.entries_count", GgufValue::i32(static_cast<int32_t>(importance->size())));
  }

  const unsigned hw = std::max(1u, std::thread::hardware_concurrency());
  ThreadPool pool(opt.threads > 0 ? opt.threads : static_cast<int>(hw));
  const size_t total = static_cast<size_t>(report.source_bytes);
  size_t done = 0;
  auto check_cancel = [&] {
    if (opt.cancel != nullptr && opt.cancel->load()) fail("{}: interrupted; no output written", opt.output);
  };
  for (size_t i = 0; i < src->tensors.size(); ++i) {
    const SourceTensor& s = src->tensors[i];
    const QuantizedTensor& q = report.tensors[i];
    const float* imp = weights[i] ? weights[i]->data() : nullptr;
    w.add_tensor(q.name, q.type, q.ne, [&, imp](uint8_t* dst, size_t nbytes) {
      const int64_t n0 = s.ne[0], rows = s.n_rows();
      const size_t out_row = row_bytes(q.type, n0), in_row = row_bytes(s.type, n0);
      // Slabs of about 4M elements: progress and cancel checks between them.
      const int64_t slab = std::max<int64_t>(1, (int64_t{1} << 22) / std::max<int64_t>(n0, 1));
      for (int64_t r0 = 0; r0 < rows; r0 += slab) {
        check_cancel();
        const int64_t r1 = std::min(rows, r0 + slab);
        if (q.type == s.type) {
          for (int64_t r = r0; r < r1; ++r) std::memcpy(dst + static_cast<size_t>(r) * out_row, s.row(r), out_row);
        } else {
          pool.parallel_for(static_cast<size_t>(r1 - r0), 1, [&](size_t b, size_t e) {
            std::vector<float> buf(static_cast<size_t>(n0));
            for (size_t r = b; r < e; ++r) {
              const int64_t row = r0 + static_cast<int64_t>(r);
              s.read_row(row, buf.data());
              quantize_row(q.type, buf.data(), dst + static_cast<size_t>(row) * out_row, n0, imp);
            }
          });
        }
        done += static_cast<size_t>(r1 - r0) * in_row;
        if (opt.progress) opt.progress(done, total);
      }
      if (static_cast<size_t>(rows) * out_row != nbytes) fail("quantize: internal size mismatch for '{}'", q.name);
    });
  }
  w.write(opt.output);
  std::error_code ec;
  report.file_bytes = fs::file_size(opt.output, ec);
  if (opt.progress) opt.progress(total, total);
  if (has_imatrix && used_importance == 0) {
    report.warnings.push_back("the importance matrix matched no tensor of the model (wrong model?)");
  }
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return report;
}

}  // namespace frugal
