// Tokenizer throughput: frugal's encode against Hugging Face tokenizers (the Rust core
// through its npm binding, run by tokenizer_bench.mjs) on the same ~1 MiB of mixed text,
// single-threaded, runs alternated A B A B and medians reported. Writes JSON to stdout
// (or --json FILE) and a table to stderr.
//
//   bench_tokenizer [--rounds N] [--runs N] [--json FILE] [--no-hf]
//
// Two shapes of input: the whole text as one encode call (a long prompt), and the text cut
// at line ends into chunks of at most 4 KiB encoded one call each (many short requests).
//
// The text is built from files in the shared test data, so both sides read the same bytes
// and anyone can rebuild it: English prose (licenses, provenance notes), code (chat
// templates and JSON of tokenizer_config.json files, Mistral's tool-call samples) and the
// multilingual test strings (CJK, Cyrillic, Arabic, emoji, combining marks...), repeated
// in that order until the text reaches 1 MiB.
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include <unistd.h>

#include "base/build_info.h"
#include "tokenizer/file_reader.h"
#include "tokenizer/tokenizer.h"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::string testdata() {
  const char* env = std::getenv("FRUGAL_TESTDATA");
  return env ? env : FRUGAL_TESTDATA_DIR;
}

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string build_text() {
  const std::string d = testdata() + "/";
  std::string prose, code, multilingual;
  for (const char* f : {"hf-tok-llama3/LICENSE.llama3.txt", "llama3-tiktoken/USE_POLICY.llama3.md",
                        "mistral-spm/LICENSE.mistral-common.txt", "README.md", "PROVENANCE-extra.md",
                        "vocab/PROVENANCE.md", "stories260K/PROVENANCE.md"}) {
    prose += slurp(d + f) + "\n";
  }
  for (const char* f : {"hf-tok-qwen3/tokenizer_config.json", "hf-tok-llama3/tokenizer_config.json",
                        "hf-tok-deepseek-v3/tokenizer_config.json", "hf-tok-phi3/tokenizer_config.json"}) {
    code += slurp(d + f) + "\n";
  }
  for (const auto& entry : fs::directory_iterator(d + "mistral-spm/samples")) {
    code += slurp(entry.path().string() + "/sample.json") + "\n";
  }
  for (const char* f : {"hf-tok-qwen3/expected.hf-tokenizers-0.23.2.json", "mistral-spm/expected.sentencepiece-0.1.97.json"}) {
    const json j = json::parse(slurp(d + f));
    const json& cases = j.contains("models") ? j["models"]["tokenizer.model.v1"]["cases"] : j["cases"];
    for (const json& c : cases) multilingual += c["text"].get<std::string>() + "\n";
  }
  const size_t target = 1 << 20;
  std::string text;
  while (text.size() < target) text += prose + code + multilingual;
  // Cut at a character boundary.
  size_t end = target;
  while ((static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
  text.resize(end);
  return text;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// Cuts at line ends into pieces of at most `limit` bytes (a longer line is one piece).
std::vector<std::string> chunks_of(const std::string& text, size_t limit) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = start;
    while (end < text.size()) {
      size_t nl = text.find('\n', end);
      nl = nl == std::string::npos ? text.size() : nl + 1;
      if (nl - start > limit && end > start) break;
      end = nl;
    }
    out.push_back(text.substr(start, end - start));
    start = end;
  }
  return out;
}

json run_hf(const std::string& tokenizer_json, const std::string& text_file, int runs) {
  const std::string out = text_file + ".hf.json";
  const std::string cmd = "TOKENIZERS_PARALLELISM=false RAYON_NUM_THREADS=1 node " +
                          shell_quote(std::string(FRUGAL_SOURCE_DIR) + "/bench/tokenizer_bench.mjs") + " " +
                          shell_quote(std::string(FRUGAL_SOURCE_DIR) + "/tests/e2e") + " " + shell_quote(tokenizer_json) +
                          " " + shell_quote(text_file) + " " + std::to_string(runs) + " > " + shell_quote(out);
  if (std::system(cmd.c_str()) != 0) {
    throw std::runtime_error("the npm tokenizers side failed (run `npm ci` in tests/e2e): " + cmd);
  }
  return json::parse(slurp(out));
}

}  // namespace

int main(int argc, char** argv) {
  int rounds = 3, runs = 5;
  bool hf = true;
  std::string json_path;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--rounds" && i + 1 < argc) {
      rounds = std::atoi(argv[++i]);
    } else if (a == "--runs" && i + 1 < argc) {
      runs = std::atoi(argv[++i]);
    } else if (a == "--json" && i + 1 < argc) {
      json_path = argv[++i];
    } else if (a == "--no-hf") {
      hf = false;
    } else {
      std::cerr << "usage: bench_tokenizer [--rounds N] [--runs N] [--json FILE] [--no-hf]\n";
      return 2;
    }
  }
  try {
    const std::string text = build_text();
    const std::string tmp = (fs::temp_directory_path() / ("frugal-tokbench-" + std::to_string(::getpid()))).string();
    fs::create_directories(tmp);
    const std::vector<std::pair<std::string, std::vector<std::string>>> shapes = {
        {"whole", {text}}, {"chunks-4KiB", chunks_of(text, 4096)}};

    json report = {{"benchmark", "tokenizer encode throughput"}, {"commit", frugal::build_commit()},
                   {"text_bytes", text.size()}, {"threads", 1}, {"results", json::array()}};
    struct Subject {
      const char* name;
      const char* file;
    };
    for (const Subject s : {Subject{"qwen3", "hf-tok-qwen3/tokenizer.json.gz"},
                            Subject{"llama3", "hf-tok-llama3/tokenizer.json.gz"}}) {
      const std::string path = testdata() + "/" + s.file;
      const auto tok = frugal::Tokenizer::from_hf(path);
      const std::string plain_json = tmp + "/" + s.name + ".tokenizer.json";
      std::ofstream(plain_json, std::ios::binary) << frugal::read_tokenizer_file(path);

      for (const auto& [shape, texts] : shapes) {
        const std::string texts_file = tmp + "/" + shape + ".json";
        std::ofstream(texts_file, std::ios::binary) << json(texts).dump();
        std::vector<double> ours, theirs;
        size_t n_tokens = 0;
        int64_t hash = 7;
        json hf_last;
        for (int r = 0; r < rounds; ++r) {
          std::vector<double> times;
          for (int i = 0; i < runs; ++i) {
            const auto start = std::chrono::steady_clock::now();
            std::vector<frugal::TokenId> ids;
            for (const std::string& t : texts) {
              const auto part = tok->encode(t, /*add_special=*/false, /*parse_special=*/true);
              ids.insert(ids.end(), part.begin(), part.end());
            }
            times.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
            n_tokens = ids.size();
            hash = 7;
            for (const auto id : ids) hash = (hash * 31 + id) % 1000000007;
          }
          ours.push_back(median(times));
          if (hf) {
            hf_last = run_hf(plain_json, texts_file, runs);
            theirs.push_back(hf_last["seconds"].get<double>());
          }
        }
        json result = {{"tokenizer", s.name},
                       {"file", s.file},
                       {"input", shape},
                       {"calls", texts.size()},
                       {"n_tokens", n_tokens},
                       {"frugal_seconds", median(ours)},
                       {"frugal_tokens_per_second", n_tokens / median(ours)},
                       {"frugal_mb_per_second", text.size() / median(ours) / 1e6}};
        std::fprintf(stderr, "%-7s %-12s %zu tokens: frugal %.4f s (%.0f tokens/s)", s.name, shape.c_str(), n_tokens,
                     median(ours), n_tokens / median(ours));
        if (hf) {
          const bool same =
              hf_last["n_tokens"].get<size_t>() == n_tokens && hf_last["ids_hash"].get<int64_t>() == hash;
          result["hf_seconds"] = median(theirs);
          result["hf_tokens_per_second"] = n_tokens / median(theirs);
          result["speedup"] = median(theirs) / median(ours);
          result["same_ids"] = same;
          std::fprintf(stderr, ", tokenizers %.4f s (%.0f tokens/s), speedup %.2fx, ids %s", median(theirs),
                       n_tokens / median(theirs), median(theirs) / median(ours), same ? "identical" : "DIFFER");
        }
        std::fprintf(stderr, "\n");
        report["results"].push_back(result);
      }
    }
    fs::remove_all(tmp);
    const std::string out = report.dump(2);
    if (json_path.empty()) {
      std::cout << out << "\n";
    } else {
      std::ofstream(json_path) << out << "\n";
    }
  } catch (const std::exception& e) {
    std::cerr << "bench_tokenizer: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
