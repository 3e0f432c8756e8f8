import { api } from "../api.js";
import { h, messageBox } from "../dom.js";
import { bytes, count } from "../format.js";
import { ACTIVE, jobProgress } from "../jobs.js";

export const TITLE = "Overview";
const REFRESH_MS = 3000;

function meter(label, used, total) {
  const fraction = total ? Math.min(used / total, 1) : 0;
  const fill = h("div", { class: "fill" });
  fill.style.width = `${(fraction * 100).toFixed(1)}%`;
  return h("div", { class: "meter-block" },
    h("p", { class: "meter-label" }, label),
    h("div", {
      class: "meter", role: "meter", "aria-label": label,
      "aria-valuemin": 0, "aria-valuemax": total, "aria-valuenow": used,
      "aria-valuetext": `${bytes(used)} of ${bytes(total)}`,
    }, fill));
}

function sourcesChart(sources) {
  const entries = Object.entries(sources).sort((a, b) => b[1].size_bytes - a[1].size_bytes);
  if (!entries.length) return h("p", { class: "muted" }, "The vault is empty.");
  const largest = Math.max(...entries.map(([, s]) => s.size_bytes), 1);
  return h("ul", { class: "chart", "aria-label": "Size by source" },
    entries.map(([name, usage]) => {
      const bar = h("span", { class: "bar" });
      bar.style.width = `${Math.max((usage.size_bytes / largest) * 100, 1).toFixed(1)}%`;
      return h("li", {},
        h("span", { class: "chart-name" }, name),
        h("span", { class: "chart-track" }, bar),
        h("span", { class: "chart-value" }, `${bytes(usage.size_bytes)} · ${count(usage.count)} models`));
    }));
}

function runningList(jobs) {
  if (jobs === null) return h("p", { class: "muted" }, "This server has no download jobs API.");
  const running = jobs.filter((job) => ACTIVE.has(job.status));
  if (!running.length) return h("p", { class: "muted" }, "No download is running.");
  return h("ul", { class: "running" }, running.map((job) => {
    const p = jobProgress(job);
    return h("li", {},
      h("span", {}, `${job.model_id} — ${job.status}`),
      h("progress", { max: 1, value: p.fraction ?? undefined, "aria-label": `Progress of ${job.model_id}` }),
      h("span", { class: "muted" }, p.total ? `${bytes(p.done)} of ${bytes(p.total)}` : bytes(p.done)));
  }));
}

async function jobsOrNull() {
  try {
    return (await api("GET", "/api/v1/downloads")).jobs;
  } catch (error) {
    if (error.status === 404 || error.status === 405) return null;
    throw error;
  }
}

async function spaceOrNull() {
  try {
    return await api("GET", "/api/v1/space");
  } catch (error) {
    if (error.status === 404) return null;
    throw error;
  }
}

// Bytes that arrived, and the room they take on disk when preallocation makes it more.
function unfinished(status) {
  const arrived = typeof status.partial_bytes === "number" ? status.partial_bytes : status.staging_bytes;
  const onDisk = status.staging_bytes > arrived ? ` (${bytes(status.staging_bytes)} on disk)` : "";
  return `${bytes(arrived)} arrived${onDisk}`;
}

export async function render(main) {
  const message = messageBox();
  const body = h("div", { class: "overview" });
  const running = h("div", {});
  main.append(h("h1", { tabindex: -1 }, "Overview"), message, body,
    h("h2", {}, "Downloads running now"), running);
  try {
    const [status, space] = await Promise.all([api("GET", "/api/v1/status"), spaceOrNull()]);
    const cards = h("dl", { class: "cards" },
      h("div", {}, h("dt", {}, "Models"), h("dd", {}, count(status.model_count))),
      h("div", {}, h("dt", {}, "Total size"), h("dd", {}, bytes(status.total_size_bytes))),
      typeof status.staging_bytes === "number"
        ? h("div", {}, h("dt", {}, "Unfinished downloads"), h("dd", {}, unfinished(status))) : null,
      space ? h("div", {}, h("dt", {}, "Free disk"), h("dd", {}, bytes(space.free_bytes))) : null,
      space && space.quota_bytes !== null
        ? h("div", {}, h("dt", {}, "Quota"), h("dd", {}, bytes(space.quota_bytes))) : null);
    const meters = [];
    if (space) {
      meters.push(meter(`Disk: ${bytes(status.total_size_bytes)} in the vault, ${bytes(space.free_bytes)} free`,
        status.total_size_bytes, status.total_size_bytes + space.free_bytes));
      if (space.quota_bytes !== null) {
        meters.push(meter(`Quota: ${bytes(space.used_bytes)} of ${bytes(space.quota_bytes)} used`,
          space.used_bytes, space.quota_bytes));
      }
    }
    body.append(cards, ...meters,
      h("p", { class: "muted" }, "Vault: ", h("code", {}, status.storage_path)),
      h("h2", {}, "Size by source"), sourcesChart(status.sources));
  } catch (error) {
    message.show(error.detail || String(error));
  }
  let timer = null;
  let stopped = false;
  const refresh = async () => {
    if (stopped) return;
    try {
      running.replaceChildren(runningList(await jobsOrNull()));
    } catch (error) {
      running.replaceChildren(h("p", { class: "message error" }, error.detail || String(error)));
    }
    if (!stopped) timer = setTimeout(refresh, REFRESH_MS);
  };
  await refresh();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}
