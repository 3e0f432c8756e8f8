// The page's shell: loads the stylesheet, routes #/<page> to its view, moves focus to the
// new page's heading and re-renders after the server comes back.

import { url, onReconnect } from "./api.js";
import * as overview from "./views/overview.js";
import * as models from "./views/models.js";
import * as search from "./views/search.js";
import * as downloads from "./views/downloads.js";
import * as clean from "./views/clean.js";
import * as exporting from "./views/export.js";
import * as fleet from "./views/fleet.js";

const VIEWS = { overview, models, search, downloads, clean, export: exporting, fleet };
const DEFAULT_VIEW = "overview";

const style = document.createElement("link");
style.rel = "stylesheet";
style.href = url("/ui/style.css");
document.head.append(style);

let leave = null;
let generation = 0;

function current() {
  const name = location.hash.startsWith("#/") ? location.hash.slice(2).split("/")[0] : "";
  return VIEWS[name] ? name : DEFAULT_VIEW;
}

async function show({ focus }) {
  if (!location.hash.startsWith("#/") && location.hash) return; // "#main": the skip link
  const name = current();
  generation += 1;
  const mine = generation;
  if (leave) leave();
  leave = null;
  const main = document.getElementById("main");
  for (const link of document.querySelectorAll("nav a")) {
    if (link.getAttribute("href") === `#/${name}`) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  main.replaceChildren();
  document.title = `${VIEWS[name].TITLE} · DEVON`;
  const cleanup = (await VIEWS[name].render(main)) || null;
  if (mine !== generation) {
    if (cleanup) cleanup();
    return;
  }
  leave = cleanup;
  if (focus) main.querySelector("h1")?.focus();
}

window.addEventListener("hashchange", () => show({ focus: true }));
onReconnect(() => show({ focus: false }));
show({ focus: false });
