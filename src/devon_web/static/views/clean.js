// Clean: choose what goes, see the dry run's list and freed size, then confirm.

import { api } from "../api.js";
import { h, messageBox, field } from "../dom.js";
import { bytes, count } from "../format.js";
import { confirm } from "../confirm.js";

export const TITLE = "Clean";

export async function render(main) {
  const message = messageBox();
  const preview = h("div", { "aria-live": "polite" });
  const unused = h("input", { type: "radio", name: "what", id: "clean-unused", value: "unused", checked: true });
  const all = h("input", { type: "radio", name: "what", id: "clean-all", value: "all" });
  const [daysField, days] = field("Not used for at least (days)", { type: "number", min: 0, value: 30, name: "days" });
  const check = h("button", { type: "submit", class: "primary" }, "Show what would be removed");
  const form = h("form", { class: "clean" },
    h("fieldset", {},
      h("legend", {}, "Remove"),
      h("div", { class: "choice" }, unused, h("label", { for: "clean-unused" }, "Models not used recently")),
      daysField,
      h("div", { class: "choice" }, all, h("label", { for: "clean-all" }, "Every model in the vault"))),
    h("div", { class: "actions" }, check), message);
  main.append(h("h1", { tabindex: -1 }, "Clean"), form, preview);
  const sync = () => {
    days.disabled = all.checked;
  };
  unused.addEventListener("change", sync);
  all.addEventListener("change", sync);

  const request = () => ({ unused: unused.checked, all: all.checked, days: Number(days.value) });

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
    const kept = dry.skipped_local || [];
    const keptNote = kept.length
      ? h("p", { class: "kept" }, (kept.length === 1
        ? "1 local model (placed in the vault by hand) is kept"
        : `${count(kept.length)} local models (placed in the vault by hand) are kept`) +
          ": remove them one by one, or with devon clean --source local.")
      : "";
    if (!dry.removed) {
      preview.append(h("p", {}, "Nothing would be removed."), keptNote);
      return;
    }
    const remove = h("button", { type: "button", class: "danger" }, `Remove these ${count(dry.removed)} models`);
    const outcome = messageBox();
    remove.addEventListener("click", async () => {
      const ok = await confirm("Remove models",
        `Remove ${count(dry.removed)} models and free ${bytes(dry.freed_bytes)}? Their files are deleted.`, "Remove");
      if (!ok) return;
      try {
        const done = await api("POST", "/api/v1/clean", { body: { ...chosen, dry_run: false } });
        remove.disabled = true;
        outcome.show(`Removed ${count(done.removed)} models, freed ${bytes(done.freed_bytes)}.`, "ok");
      } catch (error) {
        outcome.show(error.detail || String(error));
      }
    });
    preview.append(
      h("h2", {}, `${count(dry.removed)} models would go, freeing ${bytes(dry.freed_bytes)}`),
      h("ul", { class: "files" }, dry.models.map((m) => h("li", {}, h("code", {}, m)))),
      keptNote, h("div", { class: "actions" }, remove), outcome);
  });
}
