#include <gtest/gtest.h>

#include "chat/chat_template.h"

namespace frugal::chat {
namespace {

TEST(ChatSmoke, Renders) {
  ChatTemplate t("{% for m in messages %}{{ m.role }}: {{ m.content }}\n{% endfor %}");
  nlohmann::ordered_json msgs = nlohmann::ordered_json::parse(R"([{"role":"user","content":"hi"}])");
  EXPECT_EQ(t.render(msgs), "user: hi\n");
}

}  // namespace
}  // namespace frugal::chat
