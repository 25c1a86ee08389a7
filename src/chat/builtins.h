// Jinja's built-in filters, tests and global functions, and the Python str/dict methods
// templates call (message.content.startswith(...), tool.items()), as far as chat templates
// use them. Unknown names throw frugal::Error naming the filter, test or method.
#pragma once

#include <string>
#include <string_view>

#include "base/error.h"
#include "chat/interpreter.h"
#include "chat/value.h"

namespace frugal::chat {

Value apply_filter(Interpreter& in, std::string_view name, const Value& operand, CallArgs& args);
bool apply_test(Interpreter& in, std::string_view name, const Value& operand, CallArgs& args);

// Whether `object.name(...)` is a built-in method (string and dict methods).
bool has_method(const Value& object, std::string_view name);
Value call_method(Interpreter& in, const Value& object, std::string_view name, CallArgs& args);
// `object.name` without a call: the method as a function value.
Value bound_method(const Value& object, std::string_view name);

// range, namespace, dict, raise_exception, strftime_now.
void add_globals(Scope& scope);
// Whether `e` is raise_exception()'s signal (the evaluator reports it as TemplateRaised).
bool is_raise_request(const Error& e);

}  // namespace frugal::chat
