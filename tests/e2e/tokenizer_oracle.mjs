// Hugging Face tokenizers (the Rust core, through its official npm binding) as an oracle.
// Usage: node tokenizer_oracle.mjs REQUEST.json > RESPONSE.json
// REQUEST: {"tokenizers": [{"path": TOKENIZER_JSON, "texts_b64": [BASE64, ...]}]}
// RESPONSE: {"tokenizers": [{"plain": [[ids]], "special": [[ids]], "decoded": [TEXT],
//                            "decoded_skip": [TEXT]}]}
// Texts travel as base64 of raw bytes because they may hold invalid UTF-8; they reach
// tokenizers the only way a JavaScript caller can pass bytes, decoded lossily (WHATWG
// UTF-8: each maximal ill-formed subpart becomes U+FFFD).
import {Tokenizer} from "tokenizers";
import {readFileSync} from "node:fs";

const request = JSON.parse(readFileSync(process.argv[2], "utf8"));
const out = {tokenizers: []};
for (const t of request.tokenizers) {
  const tok = Tokenizer.fromFile(t.path);
  const texts = t.texts_b64.map((b) => Buffer.from(b, "base64").toString("utf8"));
  const plain = await tok.encodeBatch(texts, {addSpecialTokens: false});
  const special = await tok.encodeBatch(texts, {addSpecialTokens: true});
  const plainIds = plain.map((e) => e.getIds());
  out.tokenizers.push({
    plain: plainIds,
    special: special.map((e) => e.getIds()),
    decoded: await tok.decodeBatch(plainIds, false),
    decoded_skip: await tok.decodeBatch(special.map((e) => e.getIds()), true),
  });
}
process.stdout.write(JSON.stringify(out));
