// The vault as a table: sortable, filtered, paged in the page (so 10,000 models stay
// smooth), fetched with If-None-Match so that an unchanged vault is not downloaded again.

import { api, getIfChanged, quote } from "../api.js";
import { h, messageBox, replace, field, modelName } from "../dom.js";
import { bytes, count, date } from "../format.js";
import { confirm } from "../confirm.js";

export const TITLE = "Models";
const PAGE_SIZE = 100;

// Kept between visits: the last list and its ETag, the sources' web pages, and how the
// table was arranged.
const cache = { etag: null, models: null, pages: null };
const view = { filter: "", sort: "model_id", descending: false, page: 0 };

const COLUMNS = [
  ["model_id", "Model"],
  ["size_bytes", "Size"],
  ["quant", "Quant"],
  ["downloaded_at", "Downloaded"],
  ["last_used", "Last used"],
];

// The quantisations a model holds, each with its size: "Q4_K_M 4.6 GiB".
function quantText(model) {
  return (model.quantizations || []).map((q) => `${q.name} ${bytes(q.size_bytes)}`);
}

// When the model was last used; its arrival counts as a use (as `devon list` and
// `clean --unused` see it), marked "(added)".
function lastUsed(model) {
  return model.last_used ? date(model.last_used) : `${date(model.downloaded_at)} (added)`;
}

// A model's page on its source's web site (the configured endpoint's, e.g. a mirror's),
// from GET /api/v1/sources; null when the source has none or the server does not say.
async function webPages() {
  if (cache.pages) return cache.pages;
  try {
    const answer = await api("GET", "/api/v1/sources");
    cache.pages = Object.fromEntries(answer.sources.map((s) => [s.name, s.web_url_template]));
  } catch {
    cache.pages = {};
  }
  return cache.pages;
}

function webUrl(model) {
  const template = (cache.pages || {})[model.source];
  return template ? template.replace("{model_id}", model.model_id) : null;
}

function key(model) {
  return `${model.source}/${model.model_id}`;
}

function sortValue(model) {
  if (view.sort === "quant") return quantText(model).join(" ") || null;
  if (view.sort === "last_used") return model.last_used || model.downloaded_at;
  return model[view.sort];
}

function compare(a, b) {
  const x = sortValue(a);
  const y = sortValue(b);
  if (x === y) return key(a).localeCompare(key(b));
  if (x === null || x === undefined) return 1; // never used: always last
  if (y === null || y === undefined) return -1;
  const order = typeof x === "number" ? x - y : String(x).localeCompare(String(y));
  return view.descending ? -order : order;
}

async function load() {
  const answer = await getIfChanged("/api/v1/models?quantizations=true", cache.models ? cache.etag : null);
  if (answer.changed) {
    cache.models = answer.data.models;
    cache.etag = answer.etag;
  }
  return cache.models;
}

function forget(model) {
  cache.models = cache.models.filter((m) => key(m) !== key(model));
  cache.etag = null;
}

function details(model, onDeleted, opener) {
  const dialog = h("dialog", { class: "details", "aria-labelledby": "details-title" });
  const message = messageBox();
  const copied = h("span", { role: "status", class: "muted" });
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(model.path);
      copied.textContent = "Copied";
    } catch {
      pathText.focus();
      window.getSelection().selectAllChildren(pathText);
      copied.textContent = "Selected: press Ctrl+C to copy";
    }
  };
  const pathText = h("code", { tabindex: 0 }, model.path);
  const meta = Object.entries(model.metadata || {}).filter(([, v]) => v !== null && v !== "");
  const web = webUrl(model);
  const quants = quantText(model);
  const remove = async () => {
    const ok = await confirm(`Delete ${model.model_id}`,
      `Remove ${model.model_id} (${bytes(model.size_bytes)}) from the vault? Its files are deleted.`);
    if (!ok) return;
    try {
      await api("DELETE", `/api/v1/models/${quote(model.source)}/${quote(model.model_id)}`);
      dialog.close();
      onDeleted(model);
    } catch (error) {
      message.show(error.detail || String(error));
    }
  };
  dialog.append(
    h("h2", { id: "details-title" }, model.model_id),
    h("dl", { class: "facts" },
      h("dt", {}, "Source"), h("dd", {}, model.source),
      h("dt", {}, "Size"), h("dd", {}, bytes(model.size_bytes)),
      quants.length ? [h("dt", {}, "Quantisations"), h("dd", {}, quants.join(", "))] : null,
      h("dt", {}, "Downloaded"), h("dd", {}, date(model.downloaded_at)),
      h("dt", {}, "Last used"), h("dd", {}, lastUsed(model)),
      h("dt", {}, "Path"), h("dd", {}, pathText, " ",
        h("button", { type: "button", onclick: copy }, "Copy path"), " ", copied),
      web
        ? [h("dt", {}, "Web page"), h("dd", {}, h("a", { href: web, rel: "noopener noreferrer", target: "_blank" }, web))]
        : null),
    h("h3", {}, `Files (${model.files.length})`),
    h("ul", { class: "files" }, model.files.map((file) => h("li", {}, h("code", {}, file)))),
    meta.length ? h("h3", {}, "Metadata") : null,
    meta.length ? h("dl", { class: "facts" }, meta.map(([k, v]) => [
      h("dt", {}, k), h("dd", {}, Array.isArray(v) ? v.join(", ") : typeof v === "object" ? JSON.stringify(v) : String(v)),
    ])) : null,
    message,
    h("div", { class: "actions" },
      h("button", { type: "button", class: "danger", onclick: remove }, "Delete…"),
      h("button", { type: "button", onclick: () => dialog.close() }, "Close")));
  dialog.addEventListener("close", () => {
    dialog.remove();
    if (opener && document.contains(opener)) opener.focus();
  });
  document.body.append(dialog);
  dialog.showModal();
}

export async function render(main) {
  const message = messageBox();
  const [filterField, filterInput] = field("Filter models", { type: "search", value: view.filter, placeholder: "name, source or file" });
  const summary = h("p", { class: "muted", role: "status", "aria-live": "polite" });
  const table = h("table", {});
  const pager = h("div", { class: "pager" });
  main.append(h("h1", { tabindex: -1 }, "Models"), message, filterField, summary,
    h("div", { class: "scroll", tabindex: 0, role: "region", "aria-label": "Models in the vault" }, table), pager);

  let models = [];
  const visible = () => {
    const needle = view.filter.trim().toLowerCase();
    const shown = needle
      ? models.filter((m) => key(m).toLowerCase().includes(needle) || m.files.some((f) => f.toLowerCase().includes(needle)))
      : models.slice();
    return shown.sort(compare);
  };

  const draw = () => {
    const shown = visible();
    const pages = Math.max(Math.ceil(shown.length / PAGE_SIZE), 1);
    view.page = Math.min(view.page, pages - 1);
    const first = view.page * PAGE_SIZE;
    const rows = shown.slice(first, first + PAGE_SIZE);
    summary.textContent = shown.length
      ? `${count(shown.length)} of ${count(models.length)} models, ${bytes(shown.reduce((s, m) => s + m.size_bytes, 0))}`
      : models.length ? "No model matches the filter." : "The vault is empty: find models in Search.";
    const head = h("tr", {}, COLUMNS.map(([name, label]) => {
      const sorted = view.sort === name;
      return h("th", { scope: "col", "aria-sort": sorted ? (view.descending ? "descending" : "ascending") : "none" },
        h("button", {
          type: "button", class: "sort",
          onclick: () => {
            view.descending = sorted ? !view.descending : name !== "model_id";
            view.sort = name;
            draw();
          },
        }, label, sorted ? (view.descending ? " ▼" : " ▲") : ""));
    }), h("th", { scope: "col" }, "Source"));
    replace(table,
      h("caption", { class: "visually-hidden" }, "Models in the vault; column buttons sort"),
      h("thead", {}, head),
      h("tbody", {}, rows.map((m) => h("tr", {},
        h("th", { scope: "row" }, h("button", {
          type: "button", class: "link", "data-key": key(m),
          onclick: (event) => {
            details(m, (gone) => {
              forget(gone);
              models = cache.models;
              message.show(`Deleted ${gone.model_id}.`, "ok");
              draw();
              filterInput.focus();
            }, event.currentTarget);
          },
        }, modelName(m.model_id))),
        h("td", { class: "num" }, bytes(m.size_bytes)),
        h("td", { class: "quant" }, quantText(m).map((q) => h("div", {}, q))),
        h("td", {}, date(m.downloaded_at)),
        h("td", {}, lastUsed(m)),
        h("td", {}, m.source)))));
    replace(pager, pages > 1 ? [
      h("button", { type: "button", disabled: view.page === 0, onclick: () => { view.page -= 1; draw(); } }, "Previous"),
      h("span", {}, `Page ${view.page + 1} of ${pages}`),
      h("button", { type: "button", disabled: view.page >= pages - 1, onclick: () => { view.page += 1; draw(); } }, "Next"),
    ] : []);
  };

  let typing = null;
  filterInput.addEventListener("input", () => {
    clearTimeout(typing);
    typing = setTimeout(() => {
      view.filter = filterInput.value;
      view.page = 0;
      draw();
    }, 150);
  });

  try {
    [models] = await Promise.all([load(), webPages()]);
    draw();
  } catch (error) {
    message.show(error.detail || String(error));
  }
  return () => clearTimeout(typing);
}
