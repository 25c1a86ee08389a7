// Hugging Face model directories as a quantize source: config.json (llama, mistral, qwen2,
// qwen3 causal LMs), tokenizer.json + tokenizer_config.json, and the weights in
// *.safetensors (one file or shards listed in model.safetensors.index.json). Names and
// metadata follow llama.cpp's convert_hf_to_gguf.py, so the GGUF written from it is the
// file that converter would write, in the types quantize chooses.
#pragma once

#include <memory>
#include <string>

#include "format/gguf.h"
#include "tools/model_source.h"

namespace frugal {

// Reads the directory without copying weights (the safetensors files stay mapped).
// Errors name the file, the key or tensor, the value and what was expected.
std::unique_ptr<ModelSource> open_hf_source(const std::string& dir);

}  // namespace frugal
