// Tiny DOM helpers shared by the views.

/**
 * Create an element: h('button', {class: 'x', testid: 'send', onclick: fn}, 'Send').
 * `testid` becomes data-testid, `data` an object of data-* attributes, on* keys listeners;
 * children are nodes or strings (null/undefined/false are skipped).
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') el.className = value;
    else if (key === 'testid') el.dataset.testid = value;
    else if (key === 'data') Object.assign(el.dataset, value);
    else if (key.startsWith('on')) el.addEventListener(key.slice(2), value);
    else if (key === 'text') el.textContent = value;
    else el.setAttribute(key, value === true ? '' : value);
  }
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

/** Show any value as short text: strings as they are, the rest as JSON without null fields. */
export function show(value) {
  if (value === undefined || value === null) return '';
  if (typeof value === 'string') return value;
  try {
    return JSON.stringify(value, (key, v) => (v === null && key !== '' ? undefined : v));
  } catch {
    return String(value);
  }
}

/** Format milliseconds for people: 40 µs, 4.2 ms, 840 ms, 1.24 s. */
export function ms(value) {
  if (value === undefined || value === null || Number.isNaN(value)) return '–';
  if (value < 0.1) return `${Math.max(1, Math.round(value * 1000))} µs`;
  if (value < 10) return `${value.toFixed(1)} ms`;
  return value < 1000 ? `${Math.round(value)} ms` : `${(value / 1000).toFixed(2)} s`;
}

/** Keep a scroll container pinned to the bottom if it was there before `change` ran. */
export function keepBottom(el, change) {
  const atBottom = el.scrollHeight - el.scrollTop - el.clientHeight < 24;
  change();
  if (atBottom) el.scrollTop = el.scrollHeight;
}
