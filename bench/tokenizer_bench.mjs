// The Hugging Face tokenizers side of bench_tokenizer: encodes a text file with the npm
// binding of the Rust core and reports the median time of several runs (loading excluded).
// Usage: node tokenizer_bench.mjs E2E_DIR TOKENIZER_JSON TEXTS_JSON RUNS
// E2E_DIR is tests/e2e, where `npm ci` installed the package. TEXTS_JSON is an array of
// strings, encoded one after the other (one call each) in every run.
import {createRequire} from "node:module";
import {readFileSync} from "node:fs";

const [e2eDir, tokenizerPath, textPath, runsArg] = process.argv.slice(2);
const {Tokenizer} = createRequire(`${e2eDir}/package.json`)("tokenizers");
const tok = Tokenizer.fromFile(tokenizerPath);
const texts = JSON.parse(readFileSync(textPath, "utf8"));
const runs = Number(runsArg);
const times = [];
let parts = [];
for (let i = 0; i < runs; ++i) {
  const start = process.hrtime.bigint();
  parts = [];
  for (const text of texts) {
    const enc = await tok.encode(text, null, {addSpecialTokens: false});
    parts.push(enc.getIds());
  }
  times.push(Number(process.hrtime.bigint() - start) / 1e9);
}
times.sort((a, b) => a - b);
let n = 0, hash = 7;
for (const ids of parts) {
  n += ids.length;
  for (const x of ids) hash = (hash * 31 + x) % 1000000007;
}
process.stdout.write(JSON.stringify({seconds: times[Math.floor(times.length / 2)], all: times, n_tokens: n,
                                     ids_hash: hash}));
