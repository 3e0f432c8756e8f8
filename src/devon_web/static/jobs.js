// Following a download job: its event stream when it streams, else polling the job.
// A proxy that returns whole answers only (KITT's) holds the stream until the job ends, so
// when no event arrives within STREAM_PATIENCE_MS the page polls instead.

import { api, send, quote } from "./api.js";

const STREAM_PATIENCE_MS = 3000;
const POLL_MS = 1000;
export const ACTIVE = new Set(["queued", "downloading"]);

export function jobPath(id) {
  return `/api/v1/downloads/${quote(id)}`;
}

function parseEvents(buffer, onEvent) {
  let rest = buffer.replace(/\r\n/g, "\n");
  let end;
  while ((end = rest.indexOf("\n\n")) >= 0) {
    const block = rest.slice(0, end);
    rest = rest.slice(end + 2);
    let name = "message";
    const data = [];
    for (const line of block.split("\n")) {
      if (line.startsWith("event:")) name = line.slice(6).trim();
      else if (line.startsWith("data:")) data.push(line.slice(5).trimStart());
    }
    if (data.length) onEvent(name, JSON.parse(data.join("\n")));
  }
  return rest;
}

async function streamJob(id, onJob, controller) {
  let heard = false;
  const patience = setTimeout(() => {
    if (!heard) controller.abort();
  }, STREAM_PATIENCE_MS);
  try {
    const res = await send("GET", `${jobPath(id)}/events`, {
      signal: controller.signal,
      headers: { Accept: "text/event-stream" },
    });
    if (!res.ok || !res.body) return false;
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    let ended = false;
    let broken = false; // `event: error`: the server cannot read the job; poll instead
    while (!ended && !broken) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer = parseEvents(buffer + value, (name, job) => {
        heard = true;
        if (name === "error") broken = true;
        else onJob(job);
        if (name === "end") ended = true;
      });
    }
    if (ended || broken) controller.abort();
    return ended;
  } catch {
    return false;
  } finally {
    clearTimeout(patience);
  }
}

// Calls onJob with each new state of the job until it is finished or `stop()` is called.
export function followJob(id, onJob) {
  let stopped = false;
  let controller = new AbortController();
  (async () => {
    if (await streamJob(id, onJob, controller)) return;
    while (!stopped) {
      try {
        const job = await api("GET", jobPath(id));
        onJob(job);
        if (!ACTIVE.has(job.status)) return;
      } catch (error) {
        if (error.status === 404) return;
      }
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
  })();
  return () => {
    stopped = true;
    controller.abort();
  };
}

export function jobProgress(job) {
  const total = job.bytes_total;
  const done = job.bytes_done || 0;
  const fraction = total ? Math.min(done / total, 1) : null;
  const speed = job.bytes_per_second;
  const left = total && speed ? (total - done) / speed : null;
  return { done, total, fraction, speed, left };
}
