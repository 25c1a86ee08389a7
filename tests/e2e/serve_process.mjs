// Starts `frugal serve` on a free port for the end-to-end tests (FRUGAL_BIN, FRUGAL_TESTDATA)
// and resolves once it listens: {proc, port, url, log(), client} where client is the
// official openai client pointed at it.
import {spawn} from "node:child_process";
import OpenAI from "openai";

export const MODEL = `${process.env.FRUGAL_TESTDATA}/stories260K/stories260K.gguf`;

export async function startServer(args = [], {timeoutMs = 60000} = {}) {
  const proc = spawn(process.env.FRUGAL_BIN, ["serve", "-m", MODEL, "--port", "0", ...args],
                     {stdio: ["ignore", "ignore", "pipe"]});
  let log = "";
  const port = await new Promise((resolve, reject) => {
    proc.stderr.on("data", (d) => {
      log += d;
      const m = log.match(/listening on http:\/\/[^:]+:(\d+)/);
      if (m) resolve(Number(m[1]));
    });
    proc.on("exit", (code) => reject(new Error(`frugal serve exited (${code}): ${log}`)));
  });
  const url = `http://127.0.0.1:${port}`;
  return {proc, port, url, log: () => log,
          client: new OpenAI({baseURL: `${url}/v1`, apiKey: "unused", maxRetries: 0, timeout: timeoutMs})};
}
