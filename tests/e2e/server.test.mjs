// frugal serve driven by real clients: the official `openai` npm client for the API,
// raw sockets for hostile input. Run by CTest (tests/e2e/CMakeLists.txt) with FRUGAL_BIN
// and FRUGAL_TESTDATA set.
import {test, before, after} from "node:test";
import assert from "node:assert/strict";
import {readFileSync} from "node:fs";
import net from "node:net";
import OpenAI from "openai";
import {startServer as start} from "./serve_process.mjs";

const TESTDATA = process.env.FRUGAL_TESTDATA;
const REFERENCE = JSON.parse(readFileSync(`${TESTDATA}/stories260K/reference.json`, "utf8"));

const servers = [];

async function startServer(args = []) {
  const server = await start(args);
  servers.push(server);
  return server;
}

async function metric(server, name) {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  const m = text.match(new RegExp(`^${name} (\\S+)$`, "m"));
  assert.ok(m, `metric ${name} missing`);
  return Number(m[1]);
}

async function until(what, predicate, ms = 10000) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await predicate()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.fail(`timed out waiting for ${what}`);
}

// Sends raw bytes and returns the status line's code (or null if the server closed).
function raw(server, bytes, {delayMs = 0} = {}) {
  return new Promise((resolve) => {
    const socket = net.connect(server.port, "127.0.0.1");
    let data = "";
    socket.on("data", (d) => (data += d));
    socket.on("close", () => {
      const m = data.match(/^HTTP\/1\.1 (\d+)/);
      resolve(m ? Number(m[1]) : null);
    });
    socket.on("error", () => {});
    socket.on("connect", async () => {
      if (delayMs === 0) {
        socket.end(bytes);
        return;
      }
      for (const b of bytes) {
        if (socket.destroyed) return;
        socket.write(Buffer.from([b]));
        await new Promise((r) => setTimeout(r, delayMs));
      }
    });
  });
}

let main;
before(async () => {
  main = await startServer(["--parallel", "16", "--max-body", "100000"]);
});

after(async () => {
  for (const s of servers) s.proc.kill("SIGKILL");
});

test("completions: greedy text equals llama.cpp's reference", async () => {
  const c = REFERENCE.cases[0];
  const r = await main.client.completions.create({model: "x", prompt: c.prompt, max_tokens: 64, temperature: 0});
  assert.equal(r.choices[0].text, c.generated_text);
  assert.equal(r.choices[0].finish_reason, "length");
  assert.deepEqual(r.usage, {prompt_tokens: 5, completion_tokens: 64, total_tokens: 69,
                             prompt_tokens_details: {cached_tokens: r.usage.prompt_tokens_details.cached_tokens}});
  // Token ids as the prompt give the same continuation.
  const ids = await main.client.completions.create({model: "x", prompt: c.prompt_tokens, max_tokens: 64, temperature: 0});
  assert.equal(ids.choices[0].text, c.generated_text);
});

test("chat: non-streaming and streaming agree; usage and finish_reason", async () => {
  const messages = [{role: "system", content: "You tell stories."}, {role: "user", content: "Tell me about a cat."}];
  const full = await main.client.chat.completions.create({model: "x", messages, max_tokens: 24, temperature: 0});
  assert.equal(full.object, "chat.completion");
  assert.equal(full.choices[0].message.role, "assistant");
  assert.equal(full.choices[0].finish_reason, "length");
  assert.equal(full.usage.completion_tokens, 24);
  assert.equal(full.usage.total_tokens, full.usage.prompt_tokens + 24);
  const stream = await main.client.chat.completions.create({model: "x", messages, max_tokens: 24, temperature: 0,
                                                             stream: true, stream_options: {include_usage: true}});
  let text = "";
  let finish = null;
  let usage = null;
  for await (const chunk of stream) {
    if (chunk.usage) usage = chunk.usage;
    for (const ch of chunk.choices) {
      text += ch.delta.content ?? "";
      if (ch.finish_reason) finish = ch.finish_reason;
    }
  }
  assert.equal(text, full.choices[0].message.content);
  assert.equal(finish, "length");
  assert.equal(usage.completion_tokens, 24);
  // Content given as text parts is the same conversation.
  const parts = await main.client.chat.completions.create({
    model: "x", max_tokens: 24, temperature: 0,
    messages: [{role: "system", content: [{type: "text", text: "You tell "}, {type: "text", text: "stories."}]},
               {role: "user", content: "Tell me about a cat."}]});
  assert.equal(parts.choices[0].message.content, full.choices[0].message.content);
});

test("chat: an assistant turn with only tool calls (null content, JSON-text arguments)", async () => {
  const r = await main.client.chat.completions.create({
    model: "x", max_tokens: 4, temperature: 0,
    messages: [{role: "user", content: "What is the weather?"},
               {role: "assistant", content: null,
                tool_calls: [{id: "call_1", type: "function",
                              function: {name: "weather", arguments: "{\"city\": \"Paris\"}"}}]},
               {role: "tool", tool_call_id: "call_1", content: "sunny"}]});
  assert.equal(r.choices[0].message.role, "assistant");
  assert.equal(r.usage.completion_tokens, 4);
});

test("stop strings, seeds and logprobs", async () => {
  const r = await main.client.completions.create({model: "x", prompt: "Once upon a time", max_tokens: 64,
                                                  temperature: 0, stop: ["Lily"]});
  assert.equal(r.choices[0].text, ", there was a little girl named ");
  assert.equal(r.choices[0].finish_reason, "stop");
  const a = await main.client.completions.create({model: "x", prompt: "The cat", max_tokens: 30, temperature: 1, seed: 7});
  const b = await main.client.completions.create({model: "x", prompt: "The cat", max_tokens: 30, temperature: 1, seed: 7});
  assert.equal(a.choices[0].text, b.choices[0].text);
  const lp = await main.client.chat.completions.create({model: "x", messages: [{role: "user", content: "Hi"}],
                                                        max_tokens: 5, temperature: 0, logprobs: true, top_logprobs: 3});
  const content = lp.choices[0].logprobs.content;
  assert.equal(content.length, 5);
  for (const t of content) {
    assert.ok(t.logprob <= 0);
    assert.equal(t.top_logprobs.length, 3);
    assert.equal(t.top_logprobs[0].token, t.token);  // greedy picks the most likely
  }
});

test("16 concurrent greedy streams give exactly what a lone request gives", async () => {
  const prompts = [];
  for (let i = 0; i < 16; i++) {
    prompts.push(`${REFERENCE.cases[i % 5].prompt}${" and they played".repeat(Math.floor(i / 5))}`);
  }
  const alone = [];
  for (const p of prompts) {
    const r = await main.client.completions.create({model: "x", prompt: p, max_tokens: 40, temperature: 0});
    alone.push(r.choices[0].text);
  }
  const together = await Promise.all(prompts.map(async (p) => {
    const s = await main.client.completions.create({model: "x", prompt: p, max_tokens: 40, temperature: 0, stream: true});
    let text = "";
    for await (const chunk of s) text += chunk.choices[0]?.text ?? "";
    return text;
  }));
  assert.deepEqual(together, alone);
});

test("a client that disconnects mid-stream frees its KV blocks", async () => {
  const controller = new AbortController();
  const s = await main.client.completions.create({model: "x", prompt: "Once upon a time", max_tokens: 100000,
                                                  temperature: 0, stream: true, ignore_eos: true},
                                                 {signal: controller.signal});
  let chunks = 0;
  try {
    for await (const chunk of s) {
      if (++chunks === 3) {
        assert.ok(await metric(main, "frugal_kv_blocks_used") > 0);
        controller.abort();
      }
    }
  } catch (e) {
    // aborted
  }
  await until("KV blocks to be freed", async () => (await metric(main, "frugal_kv_blocks_used")) === 0 &&
                                                   (await metric(main, "frugal_running_sequences")) === 0);
});

test("bad requests get the right 4xx with an OpenAI error body", async () => {
  const post = (path, body, headers = {}) => fetch(`${main.url}${path}`, {
    method: "POST", body, headers: {"content-type": "application/json", ...headers}});
  const cases = [
    ["/v1/chat/completions", "{not json", 400, null],
    ["/v1/chat/completions", JSON.stringify({messages: "hi"}), 400, "messages"],
    ["/v1/chat/completions", JSON.stringify({messages: [{role: "user", content: "x"}], max_tokens: "ten"}), 400, "max_tokens"],
    ["/v1/chat/completions", JSON.stringify({messages: [{role: "user", content: "x"}], max_tokens: 1e30}), 400, "max_tokens"],
    ["/v1/chat/completions", JSON.stringify({messages: [{role: "user", content: "x"}], temperature: -1}), 400, "temperature"],
    ["/v1/chat/completions", JSON.stringify({messages: [{role: "wizard", content: "x"}]}), 400, "messages[0].role"],
    ["/v1/chat/completions", JSON.stringify({messages: [{role: "user", content: "x"}], n: 2}), 400, "n"],
    ["/v1/completions", JSON.stringify({prompt: [1, 2, 999999]}), 400, "prompt"],
    ["/v1/completions", JSON.stringify({prompt: "x".repeat(2000)}), 400, "prompt"],
    ["/v1/completions", JSON.stringify({}), 400, "prompt"],
  ];
  for (const [path, body, status, param] of cases) {
    const r = await post(path, body);
    assert.equal(r.status, status, body.slice(0, 80));
    const j = await r.json();
    assert.equal(typeof j.error.message, "string");
    assert.equal(j.error.param, param, body.slice(0, 80));
  }
  // A prompt longer than the context says both numbers.
  const long = await (await post("/v1/completions", JSON.stringify({prompt: "x".repeat(2000)}))).json();
  assert.match(long.error.message, /\d+ tokens.*context holds \d+/);
  // Invalid UTF-8 inside a JSON string.
  const bad = Buffer.concat([Buffer.from('{"prompt":"ab'), Buffer.from([0xff, 0xfe]), Buffer.from('"}')]);
  assert.equal((await post("/v1/completions", bad)).status, 400);
  // Oversized body, unknown route, wrong method.
  assert.equal((await post("/v1/completions", JSON.stringify({prompt: "x".repeat(200000)}))).status, 413);
  assert.equal((await fetch(`${main.url}/v1/nothing`)).status, 404);
  assert.equal((await fetch(`${main.url}/v1/completions`)).status, 405);
  // Garbage instead of HTTP.
  assert.equal(await raw(main, Buffer.from("\x00\x01\x02 garbage garbage\r\n\r\n")), 400);
  // The server is still fine.
  const ok = await main.client.completions.create({model: "x", prompt: "The cat", max_tokens: 3});
  assert.equal(ok.usage.completion_tokens, 3);
});

test("tokenize, detokenize, models, health", async () => {
  const t = await (await fetch(`${main.url}/tokenize`, {method: "POST",
    body: JSON.stringify({content: "Once upon a time", add_special: true})})).json();
  assert.deepEqual(t.tokens, REFERENCE.cases[0].prompt_tokens);
  const d = await (await fetch(`${main.url}/detokenize`, {method: "POST",
    body: JSON.stringify({tokens: t.tokens.slice(1)})})).json();
  assert.equal(d.content, "Once upon a time");
  const models = await main.client.models.list();
  assert.equal(models.data[0].id, "stories260K.gguf");
  assert.equal((await (await fetch(`${main.url}/health`)).json()).status, "ok");
});

test("an idle connection and a byte-a-second client do not slow the others", async () => {
  const idle = net.connect(main.port, "127.0.0.1");
  const request = Buffer.from("POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 60\r\n\r\n");
  let slowDone = false;
  const slow = raw(main, request, {delayMs: 200}).then(() => (slowDone = true));
  for (let i = 0; i < 5; i++) {
    const r = await main.client.completions.create({model: "x", prompt: "Tom and his dog", max_tokens: 8});
    assert.equal(r.usage.completion_tokens, 8);
  }
  assert.equal(slowDone, false);  // still dribbling its headers while the others were served
  idle.destroy();
});

test("queue full gives 429 with Retry-After; API key is enforced", async () => {
  // A context far beyond the model's 512 keeps the first request generating for seconds,
  // so the second one is still queued when we look (with 512 a fast machine finishes first).
  const s = await startServer(["--parallel", "1", "--max-queue", "1", "--api-key", "sekret", "-c", "65536"]);
  const noKey = await fetch(`${s.url}/v1/models`);
  assert.equal(noKey.status, 401);
  assert.equal((await fetch(`${s.url}/health`)).status, 200);
  const client = new OpenAI({baseURL: `${s.url}/v1`, apiKey: "sekret", maxRetries: 0});
  const controller = new AbortController();
  const running = await client.completions.create({model: "x", prompt: "Once", max_tokens: 100000, stream: true,
                                                   ignore_eos: true}, {signal: controller.signal});
  const it = running[Symbol.asyncIterator]();
  await it.next();  // admitted and generating
  const queued = client.completions.create({model: "x", prompt: "The cat", max_tokens: 2}).catch((e) => e);
  await until("the second request to queue", async () => {
    const text = await (await fetch(`${s.url}/metrics`, {headers: {authorization: "Bearer sekret"}})).text();
    return /^frugal_queue_depth 1$/m.test(text);
  });
  const r = await fetch(`${s.url}/v1/completions`, {method: "POST", body: JSON.stringify({prompt: "x"}),
                                                     headers: {authorization: "Bearer sekret"}});
  assert.equal(r.status, 429);
  assert.equal(r.headers.get("retry-after"), "1");
  controller.abort();
  const second = await queued;
  assert.equal(second.usage?.completion_tokens, 2);
});

test("SIGTERM lets a running request finish, then exits", async () => {
  const s = await startServer(["--parallel", "2"]);
  const client = new OpenAI({baseURL: `${s.url}/v1`, apiKey: "x", maxRetries: 0});
  const stream = await client.completions.create({model: "x", prompt: "Once upon a time", max_tokens: 60,
                                                  temperature: 0, stream: true});
  const it = stream[Symbol.asyncIterator]();
  let text = (await it.next()).value.choices[0].text;
  const exited = new Promise((resolve) => s.proc.on("exit", (code) => resolve(code)));
  s.proc.kill("SIGTERM");
  for (let r = await it.next(); !r.done; r = await it.next()) text += r.value.choices[0]?.text ?? "";
  assert.equal(text, REFERENCE.cases[0].generated_text.slice(0, text.length));
  assert.ok(text.length > 100);
  assert.equal(await exited, 0);
});
