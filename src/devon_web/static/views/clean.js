// Clean: choose what goes (models not used recently or all of them, and what unfinished
// downloads left in staging), see the dry run's list and freed size, then confirm.

import { api } from "../api.js";
import { h, messageBox, field } from "../dom.js";
import { bytes, count } from "../format.js";
import { confirm } from "../confirm.js";

export const TITLE = "Clean";

function plural(n, noun) {
  return `${count(n)} ${noun}${n === 1 ? "" : "s"}`;
}

// "2 models and 1 unfinished download" for what a clean answer lists.
function what(answer) {
  const parts = [];
  if (answer.removed) parts.push(plural(answer.removed, "model"));
  const partial = (answer.partial_models || []).length;
  if (partial) parts.push(plural(partial, "unfinished download"));
  return parts.join(" and ");
}

function freed(answer) {
  return (answer.freed_bytes || 0) + (answer.partial_freed_bytes || 0);
}

export async function render(main) {
  const message = messageBox();
  const preview = h("div", { "aria-live": "polite" });
  const unused = h("input", { type: "radio", name: "what", id: "clean-unused", value: "unused", checked: true });
  const all = h("input", { type: "radio", name: "what", id: "clean-all", value: "all" });
  const none = h("input", { type: "radio", name: "what", id: "clean-none", value: "none" });
  const partial = h("input", { type: "checkbox", name: "partial", id: "clean-partial" });
  const [daysField, days] = field("Not used for at least (days)", { type: "number", min: 0, value: 30, name: "days" });
  const check = h("button", { type: "submit", class: "primary" }, "Show what would be removed");
  const form = h("form", { class: "clean" },
    h("fieldset", {},
      h("legend", {}, "Remove"),
      h("div", { class: "choice" }, unused, h("label", { for: "clean-unused" }, "Models not used recently")),
      daysField,
      h("div", { class: "choice" }, all, h("label", { for: "clean-all" }, "Every model in the vault")),
      h("div", { class: "choice" }, none, h("label", { for: "clean-none" }, "No model"))),
    h("div", { class: "choice" }, partial,
      h("label", { for: "clean-partial" }, "Unfinished downloads (what interrupted or failed downloads left; a running one's is kept)")),
    h("div", { class: "actions" }, check), message);
  main.append(h("h1", { tabindex: -1 }, "Clean"), form, preview);
  const sync = () => {
    days.disabled = !unused.checked;
  };
  for (const radio of [unused, all, none]) radio.addEventListener("change", sync);

  const request = () => ({
    unused: unused.checked, all: all.checked, days: Number(days.value), partial: partial.checked,
  });

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    preview.replaceChildren();
    message.show("");
    const chosen = request();
    let dry;
    try {
      dry = await api("POST", "/api/v1/clean", { body: { ...chosen, dry_run: true } });
    } catch (error) {
      message.show(error.detail || String(error));
      return;
    }
    const items = [...dry.models, ...(dry.partial_models || []).map((m) => `${m} (unfinished download)`)];
    const kept = dry.skipped_local || [];
    const keptNote = kept.length
      ? h("p", { class: "kept" }, (kept.length === 1
        ? "1 local model (placed in the vault by hand) is kept"
        : `${count(kept.length)} local models (placed in the vault by hand) are kept`) +
          ": remove them one by one, or with devon clean --source local.")
      : "";
    if (!items.length) {
      preview.append(h("p", {}, "Nothing would be removed."), keptNote);
      return;
    }
    const remove = h("button", { type: "button", class: "danger" }, `Remove ${what(dry)}`);
    const outcome = messageBox();
    remove.addEventListener("click", async () => {
      const ok = await confirm("Remove",
        `Remove ${what(dry)} and free ${bytes(freed(dry))}? Their files are deleted.`, "Remove");
      if (!ok) return;
      try {
        const done = await api("POST", "/api/v1/clean", { body: { ...chosen, dry_run: false } });
        remove.disabled = true;
        outcome.show(`Removed ${what(done) || "nothing"}, freed ${bytes(freed(done))}.`, "ok");
      } catch (error) {
        outcome.show(error.detail || String(error));
      }
    });
    preview.append(
      h("h2", {}, `${what(dry)} would go, freeing ${bytes(freed(dry))}`),
      h("ul", { class: "files" }, items.map((m) => h("li", {}, h("code", {}, m)))),
      keptNote, h("div", { class: "actions" }, remove), outcome);
  });
}
