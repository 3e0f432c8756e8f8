// The API's search filters as a form; each result can be downloaded (as a job when the
// server has the jobs API), a GGUF repo by one of its quantisations.

import { api, post } from "../api.js";
import { h, messageBox, field, uid, modelName } from "../dom.js";
import { bytes, params, count } from "../format.js";

export const TITLE = "Search";

const FIELDS = [
  ["query", "Search text", {}, "Words in the model's name"],
  ["provider", "Provider", {}, "Author or organisation, e.g. Qwen"],
  ["params", "Parameters", {}, "7b, 500m, <=8b, >70b"],
  ["size", "Size", {}, "<100gb, >=2.5gb"],
  ["format", "Format", { tag: "select", options: [["", "Any"], ["gguf", "GGUF"], ["safetensors", "safetensors"], ["pytorch", "PyTorch"], ["onnx", "ONNX"]] }, null],
  ["task", "Task", {}, "Pipeline tag, e.g. text-generation"],
  ["license", "Licence", {}, "e.g. apache-2.0"],
  ["limit", "Limit", { type: "number", min: 1, max: 200, value: 20 }, "1 to 200"],
];

// Kept between visits.
const state = { values: {}, answer: null };

// The quantisations to choose from: the `quantizations` field when the server gives it
// (name, size, files), else the names in `quantization` ("Q4_K_M,Q8_0"), fetched by glob.
function quantsOf(result) {
  if (Array.isArray(result.quantizations)) return result.quantizations;
  return (result.quantization || "").split(",").map((name) => name.trim())
    .filter((name) => /^[A-Za-z0-9_.-]+$/.test(name))
    .map((name) => ({ name, size_bytes: null, files: [`*${name}*`] }));
}

function quantChoice(result) {
  const quants = quantsOf(result);
  if (quants.length < 2) return null;
  const id = uid("quant");
  const preferred = quants.find((q) => q.name === "Q4_K_M") || quants[0];
  const select = h("select", { id },
    h("option", { value: "" }, `Whole repository (${bytes(result.total_size_bytes)})`),
    quants.map((q) => h("option", { value: q.name, selected: q === preferred }, q.size_bytes === null ? q.name : `${q.name} (${bytes(q.size_bytes)})`)));
  return {
    control: h("span", { class: "quant" }, h("label", { for: id, class: "visually-hidden" }, `Files of ${result.model_id} to download`), select),
    patterns: () => {
      const chosen = quants.find((q) => q.name === select.value);
      return chosen ? chosen.files : null;
    },
  };
}

function resultRow(result) {
  const note = messageBox();
  const choice = quantChoice(result);
  const button = h("button", { type: "button", class: "primary" }, "Download");
  button.setAttribute("aria-label", `Download ${result.model_id}`);
  button.addEventListener("click", async () => {
    button.disabled = true;
    note.show("Starting…", "info");
    const body = { model_id: result.model_id, source: result.source, wait: false };
    const patterns = choice ? choice.patterns() : null;
    if (patterns) body.include_patterns = patterns;
    try {
      const answer = await post("/api/v1/downloads", body);
      if (answer.status === 202) {
        note.replaceChildren("Downloading: follow it in ", h("a", { href: "#/downloads" }, "Downloads"), ".");
        note.className = "message ok";
      } else {
        note.show(`Downloaded: ${bytes(answer.data.size_bytes)} in the vault.`, "ok");
      }
    } catch (error) {
      note.show(error.detail || String(error));
    } finally {
      button.disabled = false;
    }
  });
  return h("tr", {},
    h("th", { scope: "row" }, h("a", { href: result.web_url, rel: "noopener noreferrer", target: "_blank" }, modelName(result.model_id))),
    h("td", { class: "num" }, bytes(result.total_size_bytes)),
    h("td", { class: "num" }, params(result.parameter_count)),
    h("td", {}, (result.format || []).join(", ") || "–"),
    h("td", {}, (result.quantization || "–").split(",").join(", ")),
    h("td", {}, result.license || "–"),
    h("td", { class: "num" }, count(result.downloads)),
    h("td", { class: "act" }, choice ? choice.control : null, button, note));
}

function resultsTable(answer) {
  if (!answer.results.length) return h("p", {}, "No model matches these filters.");
  return h("div", { class: "scroll", tabindex: 0, role: "region", "aria-label": "Search results" },
    h("table", {},
      h("caption", { class: "visually-hidden" }, "Search results"),
      h("thead", {}, h("tr", {}, ["Model", "Size", "Parameters", "Format", "Quantisation", "Licence", "Downloads", "Get"].map((c) => h("th", { scope: "col" }, c)))),
      h("tbody", {}, answer.results.map(resultRow))));
}

export async function render(main) {
  const message = messageBox();
  const results = h("div", { "aria-live": "polite" });
  const inputs = {};
  const form = h("form", { class: "filters", "aria-label": "Search filters" });
  for (const [name, label, attrs, hint] of FIELDS) {
    const [wrapper, input] = field(label, { name, ...attrs }, hint);
    if (state.values[name] !== undefined) input.value = state.values[name];
    inputs[name] = input;
    form.append(wrapper);
  }
  const submit = h("button", { type: "submit", class: "primary" }, "Search");
  form.append(h("div", { class: "actions" }, submit), message);
  main.append(h("h1", { tabindex: -1 }, "Search"), form, results);
  if (state.answer) results.append(resultsTable(state.answer));

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const query = new URLSearchParams();
    for (const [name, input] of Object.entries(inputs)) {
      state.values[name] = input.value;
      if (input.value.trim()) query.set(name, input.value.trim());
    }
    submit.disabled = true;
    message.show("Searching…", "info");
    try {
      state.answer = await api("GET", `/api/v1/search?${query}`);
      const limit = Number(query.get("limit") || 20);
      const more = state.answer.count >= limit && limit < 200
        ? ` Showing the first ${limit}: more may match; raise Limit (up to 200) to see them.` : "";
      message.show(`${state.answer.count} found.${more}`, "info");
      results.replaceChildren(resultsTable(state.answer));
    } catch (error) {
      message.show(error.detail || String(error));
    } finally {
      submit.disabled = false;
    }
  });
}
