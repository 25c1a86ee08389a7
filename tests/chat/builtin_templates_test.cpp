// Built-in templates: each renders like the real template of its family on the conversations
// both handle, and select_chat_template picks the model's template, a built-in or a file.
#include "chat/builtin_templates.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "chat/chat_template.h"
#include "support/test_support.h"

namespace frugal::chat {
namespace {

using Json = nlohmann::ordered_json;

std::string builtin(std::string_view name) {
  const BuiltinTemplate* t = find_builtin_template(name);
  if (t == nullptr) throw std::runtime_error("no built-in " + std::string(name));
  return std::string(t->source);
}

std::string config_template(const std::string& relative) {
  return Json::parse(test::read_file(test::testdata(relative)))["chat_template"].get<std::string>();
}

std::string fixture(const std::string& name) {
  return test::read_file((std::filesystem::path(__FILE__).parent_path() / "templates" / name).string());
}

const Json kSystemChat = Json::parse(R"([{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi!"},
  {"role": "assistant", "content": "Hello."}, {"role": "user", "content": "What is 2+2?"}])");
const Json kChat = Json::parse(R"([{"role": "user", "content": "Hi!"}, {"role": "assistant", "content": "Hello."},
  {"role": "user", "content": "What is 2+2?"}])");
const Json kSingle = Json::parse(R"([{"role": "user", "content": "One question?"}])");

struct Options {
  std::string bos, eos;
  bool generation_prompt;
};

void expect_same(const std::string& name, const std::string& real, const Json& messages, const Options& o) {
  RenderOptions opt;
  opt.bos_token = o.bos;
  opt.eos_token = o.eos;
  opt.add_generation_prompt = o.generation_prompt;
  EXPECT_EQ(ChatTemplate(builtin(name)).render(messages, opt), ChatTemplate(real).render(messages, opt))
      << name << " on " << messages.dump();
}

TEST(ChatBuiltins, NamesAndParsing) {
  for (const char* name : {"chatml", "llama2", "llama3", "mistral", "mistral-v2", "mistral-v1", "gemma", "phi3", "deepseek"}) {
    const BuiltinTemplate* t = find_builtin_template(name);
    ASSERT_NE(t, nullptr) << name;
    EXPECT_FALSE(t->description.empty());
    EXPECT_NO_THROW(ChatTemplate(std::string(t->source)).render(kChat)) << name;
  }
  EXPECT_EQ(find_builtin_template("mistral-v3"), find_builtin_template("mistral"));
  EXPECT_EQ(find_builtin_template("nope"), nullptr);
  EXPECT_EQ(builtin_templates().size(), 9u);
}

TEST(ChatBuiltins, ContentPartsAreText) {
  const Json parts = Json::parse(R"([{"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "image"},
                                      {"type": "text", "text": "b"}]}])");
  EXPECT_EQ(ChatTemplate(builtin("chatml")).render(parts), "<|im_start|>user\nab<|im_end|>\n");
}

TEST(ChatBuiltins, MatchTheirFamilysRealTemplates) {
  const std::string llama3 = config_template("hf-tok-llama3/tokenizer_config.json");
  // This Llama 3 template always ends with the assistant header, so compare with one.
  for (const Json& m : {kSystemChat, kChat, kSingle}) {
    expect_same("llama3", llama3, m, {"<|begin_of_text|>", "<|eot_id|>", true});
  }
  const std::string gemma3 = config_template("hf-tok-gemma3/tokenizer_config.json");
  const std::string llama2 = fixture("llama-2-7b-chat.jinja");
  const std::string mistral = fixture("mistral-7b-instruct-v0.3.jinja");
  const std::string deepseek = config_template("hf-tok-deepseek-v3/tokenizer_config.json");
  for (bool gen : {false, true}) {
    for (const Json& m : {kSystemChat, kChat, kSingle}) {
      expect_same("gemma", gemma3, m, {"<bos>", "<eos>", gen});
      expect_same("llama2", llama2, m, {"<s>", "</s>", gen});
      expect_same("mistral", mistral, m, {"<s>", "</s>", gen});
      expect_same("deepseek", deepseek, m, {"<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>", gen});
    }
  }
  // Phi-3's template adds the assistant tag after every user turn; equal when one follows.
  expect_same("phi3", config_template("hf-tok-phi3/tokenizer_config.json"), kChat, {"<s>", "<|endoftext|>", true});
  // ChatML: this fixture's template has a marker after the template proper.
  RenderOptions opt;
  opt.add_generation_prompt = true;
  EXPECT_EQ(ChatTemplate(builtin("chatml")).render(kSystemChat, opt) + "template ends here",
            ChatTemplate(config_template("hf-tok-qwen2-vocab-merges/tokenizer_config.json")).render(kSystemChat, opt));
  // DeepSeek tool calls as DeepSeek-R1's template writes them (one call, one result).
  const Json tools = Json::parse(R"([{"role": "user", "content": "Weather?"},
    {"role": "assistant", "content": null, "tool_calls": [{"type": "function",
      "function": {"name": "get_weather", "arguments": "{\"city\": \"Oslo\"}"}}]},
    {"role": "tool", "content": "snow"}, {"role": "assistant", "content": "It snows."}])");
  expect_same("deepseek", fixture("deepseek-r1.jinja"), tools, {"<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>", true});
}

TEST(ChatBuiltins, SelectModelTemplateBuiltinOrFile) {
  ModelChatInfo model;
  model.chat_template = "{{ 'own' }}";
  EXPECT_EQ(select_chat_template(model, "").source, "{{ 'own' }}");
  EXPECT_EQ(select_chat_template(model, "").origin, "model");
  const SelectedTemplate by_name = select_chat_template(model, "gemma");
  EXPECT_EQ(by_name.source, builtin("gemma"));
  EXPECT_EQ(by_name.origin, "built-in 'gemma'");

  const std::string dir = test::temp_dir();
  const std::string jinja = dir + "/custom.jinja";
  std::ofstream(jinja) << "{{ messages | length }}";
  EXPECT_EQ(select_chat_template(model, jinja).source, "{{ messages | length }}");
  const std::string config = dir + "/tokenizer_config.json";
  std::ofstream(config) << R"({"bos_token": "<s>", "chat_template": [{"name": "tool_use", "template": "T"},
                                                                     {"name": "default", "template": "D"}]})";
  EXPECT_EQ(select_chat_template(model, config).source, "D");
  try {
    select_chat_template(model, dir + "/missing.jinja");
    FAIL() << "no error for a missing file";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("not a built-in template (chatml, llama2"), std::string::npos) << e.what();
  }
}

TEST(ChatBuiltins, GuessFromSpecialTokensWhenTheModelHasNone) {
  ModelChatInfo model;
  EXPECT_EQ(select_chat_template(model, "").source, builtin("chatml"));
  const std::pair<std::vector<std::string>, const char*> cases[] = {
      {{"<s>", "<|im_start|>", "<|im_end|>"}, "chatml"},
      {{"<|begin_of_text|>", "<|start_header_id|>"}, "llama3"},
      {{"<bos>", "<start_of_turn>"}, "gemma"},
      {{"<｜User｜>", "<｜Assistant｜>"}, "deepseek"},
      {{"<|user|>", "<|end|>", "<|assistant|>"}, "phi3"},
      {{"<s>", "[INST]", "[/INST]"}, "mistral"},
  };
  for (const auto& [tokens, name] : cases) {
    model.special_tokens = tokens;
    const SelectedTemplate s = select_chat_template(model, "");
    EXPECT_EQ(s.source, builtin(name)) << name;
    EXPECT_NE(s.origin.find(name), std::string::npos) << s.origin;
  }
  model.special_tokens = {"<|user|>"};  // Phi-3 needs <|end|> too
  EXPECT_EQ(select_chat_template(model, "").source, builtin("chatml"));
}

}  // namespace
}  // namespace frugal::chat
