// Values as collapsible JSON. Trace events carry previews: JSON text of at most 2000
// characters (docs/api.md), cut with "…" when longer. A preview that parses is drawn as
// a tree (objects and arrays fold); one that was cut is shown as text, saying so.

import { h } from './dom.js';

const OPEN_DEPTH = 1; // levels shown unfolded

/** Parse a preview: {value} when it is JSON, else {text, cut}. */
function parsePreview(preview) {
  if (typeof preview !== 'string') return { value: preview };
  const text = preview.trim();
  if (/^[[{"]/.test(text) || /^(-?\d|true$|false$|null$)/.test(text)) {
    try {
      return { value: JSON.parse(text) };
    } catch {
      // cut short, or not JSON after all
    }
  }
  return { text: preview, cut: preview.endsWith('…') };
}

/**
 * A preview (or any value) as a JSON tree, or as text when it is not JSON. `key` names
 * the tree's folds (`data-key`), so a view redrawn from new events can keep them as the
 * reader left them.
 */
export function jsonView(preview, key, testid) {
  const parsed = parsePreview(preview);
  if ('text' in parsed) {
    return h('div', { class: 'json-text', testid }, h('pre', { class: 'verbatim' }, parsed.text),
      parsed.cut ? h('div', { class: 'muted small' }, 'preview cut at 2000 characters') : null);
  }
  return h('div', { class: 'json', testid }, tree(parsed.value, key, 0));
}

function tree(value, key, depth) {
  // JSON null is drawn as a dash: the HUD never shows the word "null" (it used to leak
  // from missing values), and the tooltip says what it is.
  if (value === null || value === undefined) return h('span', { class: 'j-null', title: 'no value' }, '–');
  if (Array.isArray(value)) {
    const items = value.map((v, i) => item(null, v, `${key}/${i}`, depth + 1));
    return fold('[', ']', items, `${value.length} item${value.length === 1 ? '' : 's'}`, key, depth);
  }
  if (typeof value === 'object') {
    const entries = Object.entries(value);
    const items = entries.map(([k, v]) => item(k, v, `${key}/${k}`, depth + 1));
    return fold('{', '}', items, `${entries.length} key${entries.length === 1 ? '' : 's'}`, key, depth);
  }
  // a string is the data's own words (verbatim), which may well say "null"
  if (typeof value === 'string') return h('span', { class: 'j-str verbatim' }, JSON.stringify(value));
  return h('span', { class: `j-${typeof value}` }, String(value));
}

function item(name, value, key, depth) {
  return h('li', {}, name === null ? null : h('span', { class: 'j-key' }, `${name}: `),
    tree(value, key, depth));
}

function fold(open, close, items, size, key, depth) {
  if (!items.length) return h('span', { class: 'j-punct' }, `${open}${close}`);
  return h('details', { class: 'j-fold', open: depth < OPEN_DEPTH, data: { key } },
    h('summary', {}, h('span', { class: 'j-punct' }, open), h('span', { class: 'j-size' }, ` ${size} `),
      h('span', { class: 'j-punct' }, close)),
    h('ul', {}, items));
}
