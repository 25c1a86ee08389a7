// @huggingface/jinja as an oracle for chat template rendering. Usage:
//   node chat_template_oracle.mjs REQUEST.json > RESPONSE.json
// REQUEST: {"templates": [SOURCE, ...], "cases": [{"template": INDEX, "context": {...}}, ...]}
// RESPONSE: {"results": [{"output": TEXT} | {"error": MESSAGE}, ...]} in the order of cases.
// Each template is parsed once; a template that does not parse gives an error for each of
// its cases.
import {Template} from "@huggingface/jinja";
import {readFileSync} from "node:fs";

const request = JSON.parse(readFileSync(process.argv[2], "utf8"));
const parsed = request.templates.map((source) => {
  try {
    return {template: new Template(source)};
  } catch (e) {
    return {error: String(e && e.message ? e.message : e)};
  }
});
const results = request.cases.map((c) => {
  const t = parsed[c.template];
  if (t.error !== undefined) return {error: t.error};
  try {
    return {output: t.template.render(c.context)};
  } catch (e) {
    return {error: String(e && e.message ? e.message : e)};
  }
});
process.stdout.write(JSON.stringify({results}));
