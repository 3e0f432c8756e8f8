// Human-readable numbers, as the CLI prints them (sizes in powers of 1024, named KiB, MiB,
// GiB as the size filter reads them: ADR 0235).

const UNITS = ["KiB", "MiB", "GiB", "TiB", "PiB"];

export function bytes(count) {
  if (count === null || count === undefined) return "–";
  if (Math.abs(count) < 1024) return `${count.toFixed(0)} B`;
  let value = count;
  let unit = UNITS[0];
  for (unit of UNITS) {
    value /= 1024;
    if (Math.abs(value) < 1024) break;
  }
  return `${value.toFixed(1)} ${unit}`;
}

export function params(billions) {
  if (billions === null || billions === undefined) return "–";
  return billions < 1 ? `${Math.round(billions * 1000)}M` : `${Number(billions.toFixed(1))}B`;
}

export function count(n) {
  return Number(n).toLocaleString("en");
}

export function date(iso) {
  if (!iso) return "never";
  const when = new Date(iso);
  if (Number.isNaN(when.getTime())) return iso;
  return when.toISOString().slice(0, 16).replace("T", " ") + " UTC";
}

export function duration(seconds) {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return "–";
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}
