// frugal serve under hostile and failing clients: a storm of concurrent streams that
// disconnect at random, slowloris, oversized headers, pipelined garbage, half-closed
// sockets. Afterwards no KV block is held, no connection is left open, resident memory has
// not grown from one storm to the next, and every well-formed request got its answer.
// Run by CTest (tests/e2e/CMakeLists.txt) with FRUGAL_BIN and FRUGAL_TESTDATA set.
import {test, before, after} from "node:test";
import assert from "node:assert/strict";
import {readFileSync} from "node:fs";
import net from "node:net";
import {startServer} from "./serve_process.mjs";

let server;

before(async () => {
  server = await startServer(["--parallel", "16", "--max-queue", "256", "--max-connections", "200",
                              "--read-timeout", "3", "--max-body", "100000"], {timeoutMs: 120000});
});

after(() => server?.proc.kill("SIGKILL"));

async function metrics() {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  const value = (name) => {
    const m = text.match(new RegExp(`^${name} (\\S+)$`, "m"));
    assert.ok(m, `metric ${name} missing`);
    return Number(m[1]);
  };
  return {kvUsed: value("frugal_kv_blocks_used"), running: value("frugal_running_sequences"),
          queued: value("frugal_queue_depth"), open: value("frugal_connections_open")};
}

function rssBytes() {
  const status = readFileSync(`/proc/${server.proc.pid}/status`, "utf8");
  return Number(status.match(/^VmRSS:\s+(\d+) kB$/m)[1]) * 1024;
}

async function until(what, predicate, ms = 20000) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await predicate()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  assert.fail(`timed out waiting for ${what}`);
}

// Nothing held once every client has gone (the metrics request itself is one connection).
async function settled() {
  await until("the server to release every sequence, block and connection", async () => {
    const m = await metrics();
    return m.kvUsed === 0 && m.running === 0 && m.queued === 0 && m.open <= 1;
  });
}

// Writes `bytes` on a fresh connection (optionally one byte every `delayMs`, optionally
// half-closing after the last byte) and resolves with everything the server sent before it
// closed, and when that happened.
function exchange(bytes, {delayMs = 0, halfClose = true} = {}) {
  return new Promise((resolve) => {
    const socket = net.connect(server.port, "127.0.0.1");
    const chunks = [];
    let sent = 0;
    socket.on("data", (d) => chunks.push(d));
    socket.on("error", () => {});
    socket.on("close", () => resolve({text: Buffer.concat(chunks).toString("latin1"), sent, closedAt: Date.now()}));
    socket.on("connect", async () => {
      if (delayMs === 0) {
        sent = bytes.length;
        if (halfClose) socket.end(bytes);
        else socket.write(bytes);
        return;
      }
      for (const b of bytes) {
        if (socket.destroyed || socket.writableEnded) return;
        socket.write(Buffer.from([b]));
        sent++;
        await new Promise((r) => setTimeout(r, delayMs));
      }
      if (halfClose && !socket.destroyed) socket.end();
    });
  });
}

const statuses = (text) => [...text.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => Number(m[1]));

const PROMPTS = ["Once upon a time", "The little dog", "Lily wanted to", "One day, Tom saw a big"];

// What each prompt gives alone, greedy: the answers storm requests must reproduce.
const alone = new Map();

async function lone(prompt, maxTokens) {
  const r = await server.client.completions.create({model: "x", prompt, max_tokens: maxTokens, temperature: 0,
                                                    ignore_eos: true});
  return r.choices[0].text;
}

// 64 clients for `ms`: each loops over greedy streaming completions; about a third of them
// disconnect after a random number of chunks (dropping the socket, not saying goodbye). A
// stream that is not cut must end with finish_reason "length" and the text the prompt
// gives alone.
async function storm(ms, seed) {
  let state = seed;
  const random = () => ((state = (state * 1103515245 + 12345) % 2147483648) / 2147483648);
  const end = Date.now() + ms;
  let completed = 0, abandoned = 0;
  const client = async () => {
    while (Date.now() < end) {
      const prompt = PROMPTS[Math.floor(random() * PROMPTS.length)];
      const cut = random() < 0.35 ? 1 + Math.floor(random() * 20) : 0;
      const controller = new AbortController();
      const stream = await server.client.completions.create(
          {model: "x", prompt, max_tokens: 64, temperature: 0, ignore_eos: true, stream: true},
          {signal: controller.signal});
      let text = "", chunks = 0, finish = null;
      for await (const chunk of stream) {
        text += chunk.choices[0]?.text ?? "";
        finish = chunk.choices[0]?.finish_reason ?? finish;
        if (cut && ++chunks === cut) {
          // Drop the connection and stop reading (iterating on could wait for an end that
          // the aborted body never delivers, if the whole response was already buffered).
          controller.abort();
          break;
        }
      }
      if (cut && chunks >= cut) {
        abandoned++;
        continue;
      }
      assert.equal(finish, "length");
      assert.equal(text, alone.get(prompt), `stream for "${prompt}" differs from the lone answer`);
      completed++;
    }
  };
  await Promise.all(Array.from({length: 64}, client));
  return {completed, abandoned};
}

test("64 streaming clients disconnecting at random: answers exact, nothing leaks", async () => {
  for (const p of PROMPTS) alone.set(p, await lone(p, 64));
  const first = await storm(4000, 7);
  await settled();
  const rssAfterFirst = rssBytes();
  const second = await storm(4000, 11);
  await settled();
  const growth = rssBytes() - rssAfterFirst;
  assert.ok(first.completed > 0 && second.completed > 0, "some streams completed");
  assert.ok(first.abandoned > 0 && second.abandoned > 0, "some streams were cut");
  // A leak of per-request state (sequences, buffers, coroutines) would grow with the
  // hundreds of requests of the second storm; allocator noise stays far below this.
  assert.ok(growth < 32 * 1024 * 1024, `resident memory grew by ${growth} bytes over the second storm`);
});

test("slowloris clients are cut off while the others are served", async () => {
  const request = Buffer.from("POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" +
                              "X-Padding: " + "a".repeat(200) + "\r\nContent-Length: 20\r\n\r\n{\"prompt\": \"hi\"}");
  const started = Date.now();
  const slow = Array.from({length: 24}, () => exchange(request, {delayMs: 50}));
  for (const p of PROMPTS) assert.equal(await lone(p, 64), alone.get(p));
  const results = await Promise.all(slow);
  for (const r of results) {
    // --read-timeout 3: the server closed the connection long before the ~14 s the whole
    // request would take at 50 ms a byte, without answering it.
    assert.ok(r.sent < request.length, `a slowloris client sent its whole request (${r.sent} bytes)`);
    assert.ok(r.closedAt - started < 12000);
  }
  await settled();
});

test("oversized headers and bodies are refused with 431 and 413", async () => {
  const big = await exchange(Buffer.from(`GET /health HTTP/1.1\r\nHost: x\r\nX-Big: ${"b".repeat(40000)}\r\n\r\n`));
  assert.deepEqual(statuses(big.text), [431]);
  // A declared length over --max-body is refused before the body is read.
  const declared = await exchange(Buffer.from("POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 999999999999\r\n\r\n{"),
                                  {halfClose: false});
  assert.deepEqual(statuses(declared.text), [413]);
  const sent = await exchange(Buffer.concat([
    Buffer.from("POST /v1/completions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"),
    Buffer.from(`30d40\r\n${"c".repeat(200000)}\r\n0\r\n\r\n`)]));
  assert.deepEqual(statuses(sent.text), [413]);
  await settled();
});

test("pipelined requests are answered in order; garbage after them gets 400 and a close", async () => {
  const body = JSON.stringify({prompt: "Once upon a time", max_tokens: 5, temperature: 0, ignore_eos: true});
  const post = `POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
  const r = await exchange(Buffer.from(`GET /health HTTP/1.1\r\nHost: x\r\n\r\n${post}${post}\x16\x03\x01 NOT HTTP\r\n\r\n`),
                           {halfClose: false});
  assert.deepEqual(statuses(r.text), [200, 200, 200, 400]);
  const texts = [...r.text.matchAll(/"text":"((?:[^"\\]|\\.)*)"/g)].map((m) => JSON.parse(`"${m[1]}"`));
  assert.deepEqual(texts, [alone.get("Once upon a time").slice(0, texts[0].length), texts[0]]);
  assert.ok(texts[0].length > 0);
  await settled();
});

test("half-closed sockets: a cut request is dropped, a complete one is answered", async () => {
  // The client sends part of the headers and shuts down its side: nothing to answer.
  const partial = await exchange(Buffer.from("POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Le"));
  assert.deepEqual(statuses(partial.text), []);
  // A whole request followed by a half-close is still answered (the health check is
  // immediate; a generation is treated as abandoned by a client that has closed its end,
  // as nginx treats it, and must leave nothing behind).
  const health = await exchange(Buffer.from("GET /health HTTP/1.1\r\nHost: x\r\n\r\n"));
  assert.deepEqual(statuses(health.text), [200]);
  const body = JSON.stringify({prompt: "Once upon a time", max_tokens: 400, ignore_eos: true, stream: true});
  await exchange(Buffer.from(`POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.length}\r\n\r\n${body}`));
  // And a mid-body close.
  const cut = await exchange(Buffer.from(`POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.length}\r\n\r\n${body.slice(0, 10)}`));
  assert.deepEqual(statuses(cut.text), []);
  await settled();
  // Still serving, with the same answers.
  assert.equal(await lone("The little dog", 64), alone.get("The little dog"));
});
