// Differential test of chat template rendering against @huggingface/jinja 0.5.11 (through
// chat_template_oracle.mjs): every real template in ../shared/testdata and tests/chat/templates
// plus frugal's built-ins, over conversations that exercise system prompts, multi-turn
// chats, tool calls and results, reasoning, unicode and empty content, with and without a
// generation prompt. frugal's output must equal the oracle's byte for byte; where both
// refuse a conversation (raise_exception, a template that cannot handle it) they agree.
//
// Conversations a template cannot take are still rendered; the only cases left out are those
// where the oracle's JavaScript shows through (it prints "[object Map]" when a template adds
// a dict to a string, where Python's Jinja and frugal raise an error). They are counted and
// must stay few. FRUGAL_CHAT_DIFF_VERBOSE=1 prints both error messages of every refused case.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "chat/builtin_templates.h"
#include "chat/chat_template.h"
#include "support/test_support.h"

namespace frugal::chat {
namespace {

using Json = nlohmann::ordered_json;

std::string here() { return test::e2e_dir(); }

struct Conversation {
  std::string name;
  Json messages;
  Json tools;                      // null or a list
  std::vector<std::string> needs;  // features a template must have: "tools", "content parts"
};

struct TemplateCase {
  std::string name;
  std::string source;
  std::string bos, eos;
  Json extra = Json::object();
  std::vector<std::string> features;

  bool accepts(const Conversation& c) const {
    for (const std::string& need : c.needs) {
      if (std::find(features.begin(), features.end(), need) == features.end()) return false;
    }
    return true;
  }
};

Json cases_file() { return Json::parse(test::read_file(here() + "/chat_template_cases.json")); }

std::vector<Conversation> conversations() {
  std::vector<Conversation> out;
  const Json file = cases_file();
  for (const Json& c : file["conversations"]) {
    out.push_back({c["name"], c["messages"], c.value("tools", Json()), c.value("needs", std::vector<std::string>{})});
  }
  return out;
}

// A token from tokenizer_config.json: a string, an AddedToken object, or null.
std::string token(const Json& config, const char* key) {
  if (!config.contains(key) || config[key].is_null()) return "";
  const Json& t = config[key];
  return t.is_string() ? t.get<std::string>() : t.value("content", "");
}

std::vector<TemplateCase> templates() {
  std::vector<TemplateCase> out;
  const std::vector<std::string> tools = {"tools"};
  auto from_config = [&](const std::string& name, const std::string& relative, std::vector<std::string> features,
                         Json extra = Json::object()) {
    const Json config = Json::parse(test::read_file(test::testdata(relative)));
    out.push_back({name, config["chat_template"], token(config, "bos_token"), token(config, "eos_token"),
                   std::move(extra), std::move(features)});
  };
  from_config("qwen3", "hf-tok-qwen3/tokenizer_config.json", tools);
  from_config("qwen3 (enable_thinking=false)", "hf-tok-qwen3/tokenizer_config.json", tools,
              Json{{"enable_thinking", false}});
  from_config("llama3", "hf-tok-llama3/tokenizer_config.json", {});
  from_config("gemma3", "hf-tok-gemma3/tokenizer_config.json", {"content parts"});
  from_config("phi3", "hf-tok-phi3/tokenizer_config.json", {});
  from_config("deepseek-v3", "hf-tok-deepseek-v3/tokenizer_config.json", tools);
  from_config("qwen2 (chatml)", "hf-tok-qwen2-vocab-merges/tokenizer_config.json", {});
  from_config("gemma (torchtune)", "tiny-tokenizers-torchtune/tokenizer_config_gemma.json", {});
  struct File {
    const char* name;
    const char* file;
    const char* bos;
    const char* eos;
    std::vector<std::string> features;
    Json extra;
  };
  const File files[] = {
      {"llama-2-chat", "llama-2-7b-chat.jinja", "<s>", "</s>", {}, Json::object()},
      {"llama-3.1", "llama-3.1-8b-instruct.jinja", "<|begin_of_text|>", "<|eot_id|>", tools,
       Json{{"date_string", "26 Jul 2024"}}},
      {"mistral-v0.3", "mistral-7b-instruct-v0.3.jinja", "<s>", "</s>", tools, Json::object()},
      {"mistral-nemo", "mistral-nemo-instruct-2407.jinja", "<s>", "</s>", tools, Json::object()},
      {"mixtral-8x7b", "mixtral-8x7b-instruct-v0.1.jinja", "<s>", "</s>", {}, Json::object()},
      {"qwen2.5", "qwen2.5-7b-instruct.jinja", "", "<|im_end|>", tools, Json::object()},
      {"deepseek-r1", "deepseek-r1.jinja", "<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>", tools, Json::object()},
      {"zephyr", "zephyr-7b-beta.jinja", "<s>", "</s>", {}, Json::object()},
      {"hermes-2-pro", "hermes-2-pro-llama-3-8b.jinja", "<|begin_of_text|>", "<|im_end|>", tools, Json::object()},
      {"command-r", "command-r-v01.jinja", "<BOS_TOKEN>", "<|END_OF_TURN_TOKEN|>", {}, Json::object()},
      {"smollm3", "smollm3-3b.jinja", "", "<|im_end|>", {}, Json::object()},
      {"qwen3.5", "qwen3.5-4b.jinja", "", "<|im_end|>", {"tools", "content parts"}, Json::object()},
      {"qwen2.5-vl", "qwen2.5-vl-7b-instruct.jinja", "", "<|im_end|>", {"content parts"}, Json::object()},
      {"glm-5.1", "glm-5.1.jinja", "", "<|endoftext|>", tools, Json::object()},
      {"kimi-k2-thinking", "kimi-k2-thinking.jinja", "", "<|im_end|>", tools, Json::object()},
      {"command-a", "command-a-03-2025.jinja", "<BOS_TOKEN>", "<|END_OF_TURN_TOKEN|>", tools, Json::object()},
      // Its tool-call rendering iterates strings, which @huggingface/jinja cannot do.
      {"command-a-reasoning", "command-a-reasoning-08-2025.jinja", "<BOS_TOKEN>", "<|END_OF_TURN_TOKEN|>", {}, Json::object()},
      // Adding a list of content parts to a string: the oracle prints JavaScript, Python raises.
      {"minicpm3", "minicpm3-4b.jinja", "", "<|im_end|>", tools, Json::object()},
      {"jamba-1.6", "jamba-large-1.6.jinja", "<|startoftext|>", "<|endoftext|>", tools, Json::object()},
      {"lfm2.5", "lfm2.5-vl-450m.jinja", "<|startoftext|>", "<|im_end|>", tools, Json::object()},
  };
  for (const File& f : files) {
    out.push_back(
        {f.name, test::read_file(here() + "/../chat/templates/" + f.file), f.bos, f.eos, f.extra, f.features});
  }
  for (const BuiltinTemplate& b : builtin_templates()) {
    std::vector<std::string> features = {"content parts"};
    if (b.name == "mistral" || b.name == "mistral-v2" || b.name == "deepseek") features.push_back("tools");
    const bool mistral = b.name.starts_with("mistral") || b.name == "llama2";
    const bool deepseek = b.name == "deepseek";
    out.push_back({"built-in " + std::string(b.name), std::string(b.source),
                   mistral    ? "<s>"
                   : deepseek ? "<｜begin▁of▁sentence｜>"
                              : "<bos>",
                   mistral    ? "</s>"
                   : deepseek ? "<｜end▁of▁sentence｜>"
                              : "<eos>",
                   Json::object(), features});
  }
  return out;
}

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// Runs the oracle over `request` and returns its results.
Json run_oracle(const Json& request) {
  const std::string dir = test::temp_dir();
  const std::string req_path = dir + "/chat_request.json";
  const std::string resp_path = dir + "/chat_response.json";
  {
    std::ofstream out(req_path, std::ios::binary);
    out << request.dump();
  }
  const std::string cmd = "node " + shell_quote(here() + "/chat_template_oracle.mjs") + " " + shell_quote(req_path) +
                          " > " + shell_quote(resp_path);
  if (std::system(cmd.c_str()) != 0) throw std::runtime_error("oracle failed: " + cmd);
  return Json::parse(test::read_file(resp_path))["results"];
}

struct Tally {
  int equal = 0, both_refused = 0, mismatched = 0, oracle_js_artifact = 0;
};

TEST(ChatTemplateDiff, RealAndBuiltinTemplatesMatchHuggingFaceJinja) {
  const std::vector<TemplateCase> templates = frugal::chat::templates();
  const std::vector<Conversation> conversations = frugal::chat::conversations();
  Json request;
  request["templates"] = Json::array();
  request["cases"] = Json::array();
  struct Pending {
    size_t t, c;
    bool gen;
    RenderOptions options;
  };
  std::vector<Pending> pending;
  for (size_t t = 0; t < templates.size(); ++t) {
    request["templates"].push_back(templates[t].source);
    for (size_t c = 0; c < conversations.size(); ++c) {
      if (!templates[t].accepts(conversations[c])) continue;
      for (bool gen : {false, true}) {
        RenderOptions opt;
        opt.add_generation_prompt = gen;
        opt.bos_token = templates[t].bos;
        opt.eos_token = templates[t].eos;
        // @huggingface/jinja needs tools to be a list (its README): [] when there are none.
        opt.tools = conversations[c].tools.is_array() ? conversations[c].tools : Json::array();
        opt.extra = templates[t].extra;
        Json context = Json::object();
        context["messages"] = conversations[c].messages;
        context["tools"] = opt.tools;
        context["add_generation_prompt"] = gen;
        context["bos_token"] = opt.bos_token;
        context["eos_token"] = opt.eos_token;
        for (const auto& [key, value] : opt.extra.items()) context[key] = value;
        request["cases"].push_back(Json{{"template", t}, {"context", context}});
        pending.push_back({t, c, gen, opt});
      }
    }
  }
  const Json results = run_oracle(request);
  ASSERT_EQ(results.size(), pending.size());

  std::map<std::string, Tally> by_template;
  Tally total;
  for (size_t i = 0; i < pending.size(); ++i) {
    const Pending& p = pending[i];
    const TemplateCase& tc = templates[p.t];
    const Conversation& conv = conversations[p.c];
    std::string ours;
    std::string our_error;
    try {
      ours = ChatTemplate(tc.source).render(conv.messages, p.options);
    } catch (const TemplateError& e) { our_error = e.what(); }
    const Json& theirs = results[i];
    Tally& tally = by_template[tc.name];
    const std::string label = tc.name + " x " + conv.name + (p.gen ? " (generation prompt)" : "");
    if (theirs.contains("output") && theirs["output"].get<std::string>().find("[object ") != std::string::npos) {
      ++tally.oracle_js_artifact;
      ++total.oracle_js_artifact;
      EXPECT_FALSE(our_error.empty()) << label << ": the oracle printed a JavaScript object, frugal rendered:\n"
                                      << ours;
    } else if (theirs.contains("output") && our_error.empty()) {
      const bool same = theirs["output"].get<std::string>() == ours;
      ++(same ? tally.equal : tally.mismatched);
      ++(same ? total.equal : total.mismatched);
      EXPECT_EQ(ours, theirs["output"].get<std::string>()) << label;
    } else if (theirs.contains("error") && !our_error.empty()) {
      ++tally.both_refused;
      ++total.both_refused;
      if (std::getenv("FRUGAL_CHAT_DIFF_VERBOSE"))
        std::printf("both refuse %s\n  oracle: %s\n  frugal: %s\n", label.c_str(),
                    theirs["error"].get<std::string>().c_str(), our_error.c_str());
    } else {
      ++tally.mismatched;
      ++total.mismatched;
      ADD_FAILURE() << label << ": oracle "
                    << (theirs.contains("error") ? "error: " + theirs["error"].get<std::string>() : "rendered")
                    << "; frugal " << (our_error.empty() ? "rendered:\n" + ours : "error: " + our_error);
    }
  }
  std::printf("%-34s %6s %6s %6s %6s\n", "template", "equal", "refuse", "js", "DIFF");
  for (const auto& [name, t] : by_template) {
    std::printf("%-34s %6d %6d %6d %6d\n", name.c_str(), t.equal, t.both_refused, t.oracle_js_artifact, t.mismatched);
  }
  std::printf("%-34s %6d %6d %6d %6d  (%zu templates x %zu conversations x 2)\n", "total", total.equal,
              total.both_refused, total.oracle_js_artifact, total.mismatched, templates.size(), conversations.size());
  EXPECT_EQ(total.mismatched, 0);
  // Guard against a vacuous pass: most cases must render and match.
  EXPECT_GT(total.equal, 6 * (total.both_refused + total.oracle_js_artifact));
}

TEST(ChatTemplateDiff, JinjaConstructsMatchHuggingFaceJinja) {
  struct Construct {
    std::string source;
    Json context;
  };
  std::vector<Construct> cases;
  const Json file = cases_file();
  for (const Json& c : file["constructs"]) {
    cases.push_back({c.is_string() ? c.get<std::string>() : c["template"].get<std::string>(),
                     c.is_string() ? Json::object() : c["context"]});
  }
  Json request;
  request["templates"] = Json::array();
  request["cases"] = Json::array();
  for (size_t i = 0; i < cases.size(); ++i) {
    request["templates"].push_back(cases[i].source);
    request["cases"].push_back(Json{{"template", i}, {"context", cases[i].context}});
  }
  const Json results = run_oracle(request);
  ASSERT_EQ(results.size(), cases.size());
  int equal = 0;
  for (size_t i = 0; i < cases.size(); ++i) {
    std::string ours;
    try {
      ours = ChatTemplate(cases[i].source).render_variables(cases[i].context);
    } catch (const TemplateError& e) {
      ADD_FAILURE() << cases[i].source << ": frugal error " << e.what();
      continue;
    }
    ASSERT_TRUE(results[i].contains("output")) << cases[i].source << ": oracle error " << results[i].dump();
    EXPECT_EQ(ours, results[i]["output"].get<std::string>()) << cases[i].source;
    equal += ours == results[i]["output"].get<std::string>();
  }
  std::printf("Jinja constructs: %d of %zu equal\n", equal, cases.size());
}

}  // namespace
}  // namespace frugal::chat
