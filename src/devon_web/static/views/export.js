// Export: the KITT list (one model path per line) or the JSON export, saved as a file.

import { api } from "../api.js";
import { h, messageBox } from "../dom.js";
import { count } from "../format.js";

export const TITLE = "Export";

function save(name, type, text) {
  const link = h("a", { href: URL.createObjectURL(new Blob([text], { type })), download: name });
  document.body.append(link);
  link.click();
  setTimeout(() => {
    URL.revokeObjectURL(link.href);
    link.remove();
  }, 1000);
}

export async function render(main) {
  const message = messageBox();
  const button = (format, label) => {
    const b = h("button", { type: "button", class: "primary" }, label);
    b.addEventListener("click", async () => {
      b.disabled = true;
      try {
        const answer = await api("POST", "/api/v1/export", { body: { format } });
        if (format === "kitt") {
          const lines = Array.isArray(answer.content) ? answer.content.map((p) => `${p}\n`).join("") : String(answer.content);
          save("devon-models.txt", "text/plain", lines);
        } else {
          save("devon-models.json", "application/json", `${JSON.stringify(answer, null, 2)}\n`);
        }
        message.show(`Saved ${count(answer.count)} models.`, "ok");
      } catch (error) {
        message.show(error.detail || String(error));
      } finally {
        b.disabled = false;
      }
    });
    return b;
  };
  main.append(
    h("h1", { tabindex: -1 }, "Export"),
    h("p", {}, "The KITT list has one model directory per line, as KITT reads it. The JSON export describes every model."),
    h("div", { class: "actions" }, button("kitt", "Download the KITT list (.txt)"), button("json", "Download the JSON export (.json)")),
    message);
}
