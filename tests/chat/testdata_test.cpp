// Chat templates against prompts rendered by independent implementations, from
// ../shared/testdata:
//  - mistral-spm/samples: mistral-common's rendering of chat requests (with tools) for its
//    v1, v2 and v3 tokenizers, written as SentencePiece pieces (▁ for a space, <0x0A> for a
//    newline byte). Reproduced by the real Mistral-7B-Instruct-v0.3 template (v3) and by the
//    built-in mistral, mistral-v2 and mistral-v1 templates.
//  - llama3-tiktoken: Meta's ChatFormat.encode_dialog_prompt rendering.
//  - tiny-tokenizers-torchtune: torchtune's Qwen2 (ChatML) rendering, and the first 22 ids of
//    its Gemma chat case (decoded with the cropped Gemma vocabulary).
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>

#include "chat/builtin_templates.h"
#include "chat/chat_template.h"
#include "support/test_support.h"

namespace frugal::chat {
namespace {

using Json = nlohmann::ordered_json;

Json read_json(const std::string& path) { return Json::parse(test::read_file(path)); }

std::string template_file(const std::string& name) {
  return test::read_file((std::filesystem::path(__FILE__).parent_path() / "templates" / name).string());
}

std::string config_template(const std::string& relative) {
  return read_json(test::testdata(relative))["chat_template"].get<std::string>();
}

std::string builtin(std::string_view name) {
  const BuiltinTemplate* t = find_builtin_template(name);
  EXPECT_NE(t, nullptr) << name;
  return t ? std::string(t->source) : std::string();
}

// SentencePiece pieces -> text: ▁ is a space, <0x0A> the newline byte.
std::string pieces_to_text(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size();) {
    if (s.compare(i, 3, "\xE2\x96\x81") == 0) {
      out += ' ';
      i += 3;
    } else if (s.compare(i, 6, "<0x0A>") == 0) {
      out += '\n';
      i += 6;
    } else {
      out += s[i++];
    }
  }
  return out;
}

// json.dumps(x) with Python's default separators, as mistral-common serializes.
std::string python_json(const Json& j) {
  ChatTemplate dump("{{ x | tojson }}");
  return dump.render_variables(Json{{"x", j}});
}

// mistral-common parses tool-call arguments and tool results that are JSON text before it
// renders them; the templates cannot parse JSON, so the request is normalised the same way
// first (a server does this when it builds the template's messages).
Json parse_if_json(const Json& v) {
  if (!v.is_string()) return v;
  const Json parsed = Json::parse(v.get<std::string>(), nullptr, false);
  return parsed.is_discarded() ? v : parsed;
}

// For the built-in templates: arguments and tool results as JSON values.
Json normalise_for_builtin(Json messages) {
  for (Json& m : messages) {
    if (m.contains("tool_calls") && m["tool_calls"].is_array()) {
      for (Json& call : m["tool_calls"]) call["function"]["arguments"] = parse_if_json(call["function"]["arguments"]);
    }
    if (m["role"] == "tool") m["content"] = parse_if_json(m["content"]);
  }
  return messages;
}

// For Mistral-7B-Instruct-v0.3's own template: one system message (it reads only the first),
// functions as {name, arguments} objects, tool results already serialized (it prints them
// with |string).
Json normalise_for_v03(const Json& messages) {
  Json out = Json::array();
  std::string system;
  for (const Json& m : messages) {
    if (m["role"] == "system") {
      if (!system.empty()) system += "\n\n";
      system += m["content"].get<std::string>();
      continue;
    }
    Json copy = m;
    if (copy.contains("tool_calls") && copy["tool_calls"].is_array()) {
      for (Json& call : copy["tool_calls"]) {
        Json function = Json::object();
        function["name"] = call["function"]["name"];
        function["arguments"] = parse_if_json(call["function"]["arguments"]);
        call["function"] = function;
      }
    }
    if (copy["role"] == "tool") copy["content"] = python_json(parse_if_json(copy["content"]));
    out.push_back(copy);
  }
  if (!system.empty()) out.insert(out.begin(), Json{{"role", "system"}, {"content", system}});
  return out;
}

struct Sample {
  std::string name;
  Json messages;
  Json tools;
};

std::vector<Sample> mistral_samples() {
  std::vector<Sample> out;
  const std::string dir = test::testdata("mistral-spm/samples");
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    const Json sample = read_json((entry.path() / "sample.json").string());
    out.push_back({entry.path().filename().string(), sample["messages"], sample.value("tools", Json())});
  }
  std::sort(out.begin(), out.end(), [](const Sample& a, const Sample& b) { return a.name < b.name; });
  return out;
}

std::string expected_text(const Sample& s, int version) {
  const std::filesystem::path path = std::filesystem::path(test::testdata_dir()) / "mistral-spm/samples" / s.name /
                                     fmt::format("text_v{}.txt", version);
  if (!std::filesystem::exists(path)) return {};
  return pieces_to_text(test::read_file(path.string()));
}

RenderOptions mistral_options(const Sample& s) {
  RenderOptions opt;
  opt.bos_token = "<s>";
  opt.eos_token = "</s>";
  opt.tools = s.tools.is_array() && !s.tools.empty() ? s.tools : Json();
  return opt;
}

TEST(ChatTestdata, MistralSamplesV3WithTheModelsOwnTemplate) {
  const ChatTemplate tmpl(template_file("mistral-7b-instruct-v0.3.jinja"));
  int checked = 0;
  for (const Sample& s : mistral_samples()) {
    const std::string want = expected_text(s, 3);
    ASSERT_FALSE(want.empty()) << s.name;
    EXPECT_EQ(tmpl.render(normalise_for_v03(s.messages), mistral_options(s)), want) << s.name;
    ++checked;
  }
  EXPECT_EQ(checked, 6);
}

TEST(ChatTestdata, MistralSamplesWithBuiltins) {
  const std::pair<int, const char*> versions[] = {{3, "mistral"}, {2, "mistral-v2"}, {1, "mistral-v1"}};
  int checked = 0;
  for (const auto& [version, name] : versions) {
    const ChatTemplate tmpl(builtin(name));
    for (const Sample& s : mistral_samples()) {
      const std::string want = expected_text(s, version);
      if (want.empty()) continue;  // v1 exists for the sample without tools only
      EXPECT_EQ(tmpl.render(normalise_for_builtin(s.messages), mistral_options(s)), want) << name << " " << s.name;
      ++checked;
    }
  }
  EXPECT_EQ(checked, 13);
}

TEST(ChatTestdata, Llama3DialogPrompt) {
  const Json expected = read_json(test::testdata("llama3-tiktoken/expected.llama-models.json"));
  std::string rendered;
  for (const Json& c : expected["cases"]) {
    if (c.contains("rendered")) rendered = c["rendered"];
  }
  ASSERT_FALSE(rendered.empty());
  const Json messages = Json::parse(R"([{"role": "system", "content": "This is a test sentence."},
                                        {"role": "user", "content": "This is a response."}])");
  RenderOptions opt;
  opt.bos_token = "<|begin_of_text|>";
  opt.eos_token = "<|end_of_text|>";
  opt.add_generation_prompt = true;
  EXPECT_EQ(ChatTemplate(config_template("hf-tok-llama3/tokenizer_config.json")).render(messages, opt), rendered);
  EXPECT_EQ(ChatTemplate(builtin("llama3")).render(messages, opt), rendered);
}

TEST(ChatTestdata, TorchtuneQwen2ChatML) {
  const Json upstream = read_json(test::testdata("tiny-tokenizers-torchtune/upstream.torchtune.json"));
  std::string rendered;
  for (const Json& c : upstream["cases"]) {
    if (c.contains("rendered")) rendered = c["rendered"];
  }
  ASSERT_FALSE(rendered.empty());
  // The conversation behind it: one user and one assistant turn.
  const std::string user_start = "<|im_start|>user\n";
  const std::string assistant_start = "<|im_end|>\n<|im_start|>assistant\n";
  const size_t a = rendered.find(assistant_start);
  ASSERT_EQ(rendered.rfind(user_start, 0), 0u);
  ASSERT_NE(a, std::string::npos);
  const std::string user = rendered.substr(user_start.size(), a - user_start.size());
  const std::string assistant =
      rendered.substr(a + assistant_start.size(), rendered.size() - a - assistant_start.size() - 10);
  const Json messages =
      Json::array({Json{{"role", "user"}, {"content", user}}, Json{{"role", "assistant"}, {"content", assistant}}});
  // torchtune leaves out the newline after the last <|im_end|>; ChatML templates write it.
  std::string want = rendered;
  want.append("\n");
  EXPECT_EQ(ChatTemplate(builtin("chatml")).render(messages), want);
  // This fixture's template carries a marker after the ChatML template proper.
  want.append("template ends here");
  const std::string qwen2 = config_template("hf-tok-qwen2-vocab-merges/tokenizer_config.json");
  EXPECT_EQ(ChatTemplate(qwen2).render(messages), want);
}

TEST(ChatTestdata, TorchtuneGemmaFirstIds) {
  const Json upstream = read_json(test::testdata("tiny-tokenizers-torchtune/upstream.torchtune.json"));
  const Json vocab_file = read_json(test::testdata("tiny-tokenizers-torchtune/tokenizer_gemma_cropped.json"));
  std::map<int64_t, std::string> vocab;
  for (const auto& [token, id] : vocab_file["model"]["vocab"].items()) vocab[id.get<int64_t>()] = token;
  for (const Json& added : vocab_file["added_tokens"]) vocab[added["id"].get<int64_t>()] = added["content"];
  std::string decoded;
  for (const Json& c : upstream["cases"]) {
    if (!c.contains("ids_first_22")) continue;
    for (const Json& id : c["ids_first_22"]) decoded += vocab.at(id.get<int64_t>());
  }
  decoded = pieces_to_text(decoded);
  ASSERT_EQ(decoded.rfind("<bos><start_of_turn>user\n", 0), 0u) << decoded;
  const Json messages =
      Json::parse(R"([{"role": "user", "content": "hello there"}, {"role": "assistant", "content": "hi"},
                                        {"role": "user", "content": "whatsup?"}])");
  RenderOptions opt;
  opt.bos_token = "<bos>";
  opt.eos_token = "<eos>";
  opt.add_generation_prompt = true;
  for (const std::string& source :
       {config_template("tiny-tokenizers-torchtune/tokenizer_config_gemma.json"), builtin("gemma")}) {
    const std::string out = ChatTemplate(source).render(messages, opt);
    EXPECT_EQ(out.substr(0, decoded.size()), decoded);
    EXPECT_EQ(out.substr(decoded.size()), "model\n");
  }
}

}  // namespace
}  // namespace frugal::chat
