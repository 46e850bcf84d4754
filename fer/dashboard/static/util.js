// Small helpers shared by the pages.

export async function api(url, options = {}) {
  const response = await fetch(url, {headers: {"Content-Type": "application/json"}, ...options});
  const body = response.status === 204 ? {} : await response.json().catch(() => ({}));
  if (!response.ok) throw Object.assign(new Error(body.error || `${response.status} ${url}`), {status: response.status, body});
  return body;
}

// el("td", {class: "x", onclick: f}, "text", childNode, ...)
export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (value !== undefined && value !== null && value !== false) node.setAttribute(key, value);
  }
  node.append(...children.flat(Infinity).filter(c => c !== null && c !== undefined).map(c => c instanceof Node ? c : String(c)));
  return node;
}

export function number(value, digits = 3) {
  return value === null || value === undefined || Number.isNaN(value) ? "" : (+value).toFixed(digits);
}

export function table(headings, rows) {
  return el("table", {}, el("tr", {}, headings.map(h => el("th", {}, h))), rows);
}

export function errors(messages) {
  return messages.map(message => el("div", {class: "error"}, message));
}

export const sessionUrl = id => "/session/" + id.split("/").map(encodeURIComponent).join("/");
