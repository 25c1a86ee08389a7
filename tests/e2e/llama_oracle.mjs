// llama.cpp as an oracle, through the npm package node-llama-cpp (prebuilt llama.cpp, CPU,
// 1 thread, F32 KV cache, flash attention off). Usage:
//   node llama_oracle.mjs REQUEST.json > RESPONSE.json
// REQUEST: {"cases": [{"model": PATH, "prompt": TEXT, "n_gen": N, "top": K}]}
// RESPONSE: {"cases": [{"prompt_ids": [...], "steps": [{"token": ID, "top": [[ID, P], ...]}]}]}
// Each step is llama.cpp's greedy choice with its K most probable next tokens; the next
// step is evaluated after feeding that token (teacher forcing material for the caller).
import {getLlama} from "node-llama-cpp";
import {readFileSync} from "node:fs";

const request = JSON.parse(readFileSync(process.argv[2], "utf8"));
const llama = await getLlama({gpu: false, build: "never", logLevel: "error"});
const out = {cases: []};
for (const c of request.cases) {
  const model = await llama.loadModel({modelPath: c.model, gpuLayers: 0});
  const context = await model.createContext({
    contextSize: 256, batchSize: 256, threads: 1, flashAttention: false,
    experimentalKvCacheKeyType: "F32", experimentalKvCacheValueType: "F32",
  });
  const sequence = context.getSequence();
  const bos = model.tokens.bos;
  const promptIds = [...(model.tokens.shouldPrependBosToken && bos != null ? [bos] : []),
                     ...model.tokenize(c.prompt, false)];
  const want = {generateNext: {token: true, probabilities: true, options: {temperature: 0}}};
  const steps = [];
  let input = promptIds.map((t, i) => i === promptIds.length - 1 ? [t, want] : t);
  for (let step = 0; step < c.n_gen; ++step) {
    const results = await sequence.controlledEvaluate(input);
    const next = results[results.length - 1].next;
    const top = [...next.probabilities.entries()].slice(0, c.top ?? 10);
    steps.push({token: next.token, top});
    input = [[next.token, want]];
  }
  out.cases.push({prompt_ids: promptIds, steps});
  await context.dispose();
  await model.dispose();
}
process.stdout.write(JSON.stringify(out));
