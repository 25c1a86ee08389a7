// Helpers for the chat template tests: render a template with variables given as JSON text.
#pragma once

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "chat/chat_template.h"

namespace frugal::chat::test_util {

inline std::string render(const std::string& source, const std::string& variables = "{}",
                          const RenderLimits& limits = {}) {
  return ChatTemplate(source).render_variables(nlohmann::ordered_json::parse(variables), limits,
                                               std::time_t{1752148800});
}

// The message of the TemplateError that rendering (or parsing) throws; "" if none is thrown.
inline std::string error_of(const std::string& source, const std::string& variables = "{}",
                            const RenderLimits& limits = {}) {
  try {
    render(source, variables, limits);
  } catch (const TemplateError& e) { return e.what(); }
  return "";
}

}  // namespace frugal::chat::test_util

#define EXPECT_ERROR_CONTAINS(source, variables, needle)                                      \
  do {                                                                                        \
    const std::string frugal_error_ = ::frugal::chat::test_util::error_of(source, variables); \
    EXPECT_NE(frugal_error_.find(needle), std::string::npos)                                  \
        << "template: " << (source) << "\nerror: " << frugal_error_;                          \
  } while (false)
