// Building DOM nodes without HTML strings: text is always text, never markup.

export function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else if (name === "class") node.className = value;
    else if (value === true) node.setAttribute(name, "");
    else node.setAttribute(name, String(value));
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function replace(node, ...children) {
  node.replaceChildren();
  append(node, children);
}

let ids = 0;
export function uid(prefix) {
  ids += 1;
  return `${prefix}-${ids}`;
}

// A message region next to the thing that caused it; errors are announced.
export function messageBox() {
  const box = h("p", { class: "message", role: "status", "aria-live": "polite" });
  box.hidden = true;
  box.show = (text, kind = "error") => {
    box.hidden = !text;
    box.className = `message ${kind}`;
    box.textContent = text || "";
  };
  return box;
}

// A labelled form field; returns [wrapper, input].
export function field(label, attrs = {}, hint = null) {
  const id = attrs.id || uid("field");
  const hintId = hint ? `${id}-hint` : null;
  const input = attrs.tag === "select"
    ? h("select", { id, name: attrs.name }, ...attrs.options.map(([value, text]) => h("option", { value }, text)))
    : h("input", { id, type: "text", ...attrs, "aria-describedby": hintId });
  const wrapper = h("div", { class: "field" }, h("label", { for: id }, label), input,
    hint ? h("small", { id: hintId }, hint) : null);
  return [wrapper, input];
}

// A model id that may break after its "/" (narrow screens) and nowhere else (not at the
// hyphens inside a name), read as one name.
export function modelName(id) {
  const part = (text) => h("span", { class: "id-part" }, text);
  const cut = id.indexOf("/");
  return cut < 0 ? [part(id)] : [part(id.slice(0, cut + 1)), document.createElement("wbr"), part(id.slice(cut + 1))];
}
