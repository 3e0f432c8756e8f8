// The fleet (docs/fleet.md): the hosts that report to this DEVON and the placements it
// keeps, read every few seconds while the page is open.

import { api } from "../api.js";
import { h, messageBox, replace } from "../dom.js";
import { bytes, date } from "../format.js";

export const TITLE = "Fleet";
const REFRESH_MS = 3000;

function hostTable(hosts) {
  if (!hosts.length) return h("p", { class: "muted" }, "No host reports to this DEVON (a DEVON started with DEVON_UPSTREAM set to this one's URL does).");
  return h("div", { class: "scroll", tabindex: 0, role: "region", "aria-label": "Hosts" },
    h("table", {},
      h("caption", { class: "visually-hidden" }, "Hosts of the fleet"),
      h("thead", {}, h("tr", {}, ["Host", "State", "Last seen", "Free", "Capacity", "Models", "URL"].map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, hosts.map((host) => h("tr", {},
        h("th", { scope: "row" }, host.name),
        h("td", {}, host.state),
        h("td", {}, date(host.last_seen)),
        h("td", { class: "num" }, host.free_bytes === null ? "–" : bytes(host.free_bytes)),
        h("td", { class: "num" }, host.capacity_bytes === null ? "–" : bytes(host.capacity_bytes)),
        h("td", { class: "num" }, String(host.models.length)),
        h("td", {}, host.url || "–"))))));
}

function progress(p) {
  if (p.state === "copying") return `copying ${bytes(p.bytes_done)} of ${p.bytes_total === null ? "?" : bytes(p.bytes_total)}`;
  return p.reason ? `${p.state}: ${p.reason}` : p.state;
}

function placementTable(placements) {
  if (!placements.length) return h("p", { class: "muted" }, "No placements (PUT /api/v1/placements makes them).");
  return h("div", { class: "scroll", tabindex: 0, role: "region", "aria-label": "Placements" },
    h("table", {},
      h("caption", { class: "visually-hidden" }, "Placements: each model on each host"),
      h("thead", {}, h("tr", {}, ["Model", "Host", "State", "Pinned"].map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, placements.map((p) => h("tr", {},
        h("th", { scope: "row" }, p.model_id),
        h("td", {}, p.host),
        h("td", {}, progress(p)),
        h("td", {}, p.pin ? "yes" : "no"))))));
}

export async function render(main) {
  const message = messageBox();
  const hosts = h("section", { "aria-label": "Hosts" });
  const placements = h("section", { "aria-label": "Placements" });
  main.append(h("h1", { tabindex: -1 }, "Fleet"), message,
    h("h2", {}, "Hosts"), hosts, h("h2", {}, "Placements"), placements);
  const draw = async () => {
    try {
      const [listed, placed] = await Promise.all([api("GET", "/api/v1/hosts"), api("GET", "/api/v1/placements")]);
      replace(hosts, hostTable(listed.hosts));
      replace(placements, placementTable(placed.placements));
    } catch (error) {
      message.show(error.detail || String(error));
    }
  };
  await draw();
  const timer = setInterval(draw, REFRESH_MS);
  return () => clearInterval(timer);
}
