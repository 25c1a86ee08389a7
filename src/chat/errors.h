// Errors of the chat template layer. All are frugal::Error; the subclasses let a server tell
// a broken template (its operator's problem) from a template that rejected the conversation
// with raise_exception() (the client's problem, e.g. "roles must alternate").
#pragma once

#include <string>

#include "base/error.h"

namespace frugal::chat {

// Syntax and evaluation errors; the message carries the template line and column.
class TemplateError : public Error {
 public:
  using Error::Error;
};

// The template called raise_exception(message).
class TemplateRaised : public TemplateError {
 public:
  TemplateRaised(const std::string& what, std::string message) : TemplateError(what), message_(std::move(message)) {}
  // The template's own message, without position.
  const std::string& message() const { return message_; }

 private:
  std::string message_;
};

}  // namespace frugal::chat
