// The download jobs with live progress (event stream, else polling), speed and time left;
// cancel; failed jobs with their errors; restart a failed or cancelled one; clear the
// finished ones from the list (in this browser: the server keeps every job).

import { api } from "../api.js";
import { h, messageBox } from "../dom.js";
import { bytes, date, duration } from "../format.js";
import { ACTIVE, followJob, jobPath, jobProgress } from "../jobs.js";

export const TITLE = "Downloads";
const LIST_REFRESH_MS = 3000;
const RESTARTABLE = new Set(["failed", "cancelled"]);
const CLEARED_KEY = "devon.clearedJobs";

// Finished jobs cleared from the list, remembered in this browser.
function cleared() {
  try {
    return new Set(JSON.parse(localStorage.getItem(CLEARED_KEY) || "[]"));
  } catch {
    return new Set();
  }
}

function clear(ids) {
  const kept = cleared();
  for (const id of ids) kept.add(id);
  try {
    localStorage.setItem(CLEARED_KEY, JSON.stringify([...kept].slice(-1000)));
  } catch {
    // storage refused (private mode, full): the list is cleared until the next visit only
  }
  return kept;
}

function progressText(job) {
  const p = jobProgress(job);
  const parts = [p.total ? `${bytes(p.done)} of ${bytes(p.total)}` : bytes(p.done)];
  if (job.files_total) parts.push(`${job.files_done} of ${job.files_total} files`);
  if (ACTIVE.has(job.status) && p.speed) parts.push(`${bytes(p.speed)}/s`, `${duration(p.left)} left`);
  return parts.join(" · ");
}

function jobCard(job, onRestarted) {
  const status = h("span", { class: "status" });
  const bar = h("progress", { max: 1, "aria-label": `Progress of ${job.model_id}` });
  const text = h("span", { class: "muted progress-text" });
  const error = h("p", { class: "message error" });
  const note = messageBox();
  const cancel = h("button", { type: "button", class: "danger" }, "Cancel");
  cancel.setAttribute("aria-label", `Cancel the download of ${job.model_id}`);
  const restart = h("button", { type: "button" }, "Restart");
  restart.setAttribute("aria-label", `Restart the download of ${job.model_id}`);
  const card = h("li", { class: "job", "data-job": job.id },
    h("div", { class: "job-head" }, h("strong", {}, job.model_id), status),
    bar, text, error, h("div", { class: "actions" }, cancel, restart), note);
  card.update = (next) => {
    card.job = next;
    status.textContent = next.status;
    status.className = `status ${next.status}`;
    const p = jobProgress(next);
    if (next.status === "completed") bar.value = 1;
    else if (p.fraction !== null) bar.value = p.fraction;
    else if (ACTIVE.has(next.status)) bar.removeAttribute("value"); // size not known yet
    else bar.value = 0;
    text.textContent = progressText(next)
      + (next.completed_at ? ` · ended ${date(next.completed_at)}` : ` · started ${date(next.started_at || next.created_at)}`);
    // A cancelled job shows one state, its status: its "cancelled" error says no more.
    const shown = next.status === "cancelled" ? "" : next.error || "";
    error.textContent = shown;
    error.hidden = !shown;
    cancel.hidden = !ACTIVE.has(next.status);
    restart.hidden = !RESTARTABLE.has(next.status);
  };
  restart.addEventListener("click", async () => {
    restart.disabled = true;
    try {
      const fresh = await api("POST", `${jobPath(job.id)}/restart`);
      onRestarted(card.job, fresh);
    } catch (error) {
      note.show(error.detail || String(error));
    } finally {
      restart.disabled = false;
    }
  });
  cancel.addEventListener("click", async () => {
    cancel.disabled = true;
    try {
      await api("DELETE", jobPath(job.id));
      note.show("");
      card.update(await api("GET", jobPath(job.id)));
    } catch (error) {
      note.show(error.detail || String(error));
    } finally {
      cancel.disabled = false;
    }
  });
  card.update(job);
  return card;
}

export async function render(main) {
  const message = messageBox();
  const list = h("ul", { class: "jobs", "aria-label": "Download jobs" });
  const empty = h("p", { class: "muted" }, "No downloads yet: start one from Search.");
  const clearButton = h("button", { type: "button", hidden: true }, "Clear finished");
  main.append(h("h1", { tabindex: -1 }, "Downloads"), message,
    h("div", { class: "actions" }, clearButton), empty, list);
  const cards = new Map();
  const following = new Map();
  let hidden = cleared();
  let timer = null;
  let stopped = false;
  let latest = [];

  const show = () => {
    const jobs = latest.filter((job) => !hidden.has(job.id));
    list.replaceChildren(...jobs.map((job) => cards.get(job.id)));
    empty.hidden = jobs.length > 0;
    clearButton.hidden = !jobs.some((job) => !ACTIVE.has(job.status));
  };

  clearButton.addEventListener("click", () => {
    hidden = clear(latest.filter((job) => !ACTIVE.has(job.status)).map((job) => job.id));
    show();
  });

  // A restarted job is a new job (a new id) that resumes the old one's files.
  const restarted = (old, fresh) => {
    hidden = clear([old.id]);
    latest = [fresh, ...latest.filter((job) => job.id !== fresh.id)];
    const card = jobCard(fresh, restarted);
    cards.set(fresh.id, card);
    follow(card);
    show();
  };

  const follow = (card) => {
    const id = card.job.id;
    if (following.has(id) || !ACTIVE.has(card.job.status)) return;
    following.set(id, followJob(id, (job) => {
      card.update(job);
      if (!ACTIVE.has(job.status)) following.delete(id);
    }));
  };

  const refresh = async () => {
    if (stopped) return;
    try {
      const answer = await api("GET", "/api/v1/downloads");
      message.show("");
      for (const job of answer.jobs) {
        let card = cards.get(job.id);
        if (!card) {
          card = jobCard(job, restarted);
          cards.set(job.id, card);
        } else if (!following.has(job.id)) {
          card.update(job);
        }
        follow(card);
      }
      latest = answer.jobs;
      show();
    } catch (error) {
      if (error.status === 404 || error.status === 405) {
        empty.hidden = true;
        message.show("This DEVON server has no download jobs API: downloads from Search finish before they answer.", "info");
        return;
      }
      message.show(error.detail || String(error));
    }
    if (!stopped) timer = setTimeout(refresh, LIST_REFRESH_MS);
  };
  await refresh();
  return () => {
    stopped = true;
    clearTimeout(timer);
    for (const stop of following.values()) stop();
  };
}
