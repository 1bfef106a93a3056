// Resizable panes: drag a gutter (or focus it and use the arrow keys) to move the border
// between two panels; double-click puts it back. Sizes are CSS variables on the layout
// (style.css gives their defaults) and are kept in localStorage.

const KEY = 'cogpipe.layout';
const STEP = 24; // px per arrow key press

/**
 * Make the gutters inside `layout` draggable. Each gutter's `data-resize` names the CSS
 * variable it sets (`--left`, `--side`, `--top`, `--chat`); `data-axis` is `x` or `y`;
 * `data-edge` says which side of the gutter the sized pane is on (`before`: the pane
 * before it grows when the gutter moves right/down; `after`: the pane after it).
 */
export function resizable(layout) {
  let saved = {};
  try {
    saved = JSON.parse(localStorage.getItem(KEY) ?? '{}') ?? {};
  } catch {
    saved = {};
  }
  for (const [name, px] of Object.entries(saved)) layout.style.setProperty(name, `${px}px`);
  for (const gutter of layout.querySelectorAll('[data-resize]')) {
    const name = gutter.dataset.resize;
    const axis = gutter.dataset.axis;
    const pane = gutter.dataset.edge === 'after' ? gutter.nextElementSibling : gutter.previousElementSibling;
    const sign = gutter.dataset.edge === 'after' ? -1 : 1;
    const container = gutter.parentElement;
    const set = (px) => {
      const whole = axis === 'x' ? container.clientWidth : container.clientHeight;
      const size = Math.round(Math.max(120, Math.min(px, whole - 160)));
      layout.style.setProperty(name, `${size}px`);
      saved[name] = size;
      localStorage.setItem(KEY, JSON.stringify(saved));
    };
    const current = () => (axis === 'x' ? pane.getBoundingClientRect().width : pane.getBoundingClientRect().height);
    gutter.addEventListener('pointerdown', (down) => {
      down.preventDefault();
      gutter.setPointerCapture(down.pointerId);
      const from = axis === 'x' ? down.clientX : down.clientY;
      const start = current();
      gutter.classList.add('dragging');
      const move = (e) => set(start + sign * ((axis === 'x' ? e.clientX : e.clientY) - from));
      const up = () => {
        gutter.classList.remove('dragging');
        gutter.removeEventListener('pointermove', move);
        gutter.removeEventListener('pointerup', up);
      };
      gutter.addEventListener('pointermove', move);
      gutter.addEventListener('pointerup', up);
    });
    gutter.addEventListener('keydown', (e) => {
      const keys = axis === 'x' ? ['ArrowLeft', 'ArrowRight'] : ['ArrowUp', 'ArrowDown'];
      if (!keys.includes(e.key)) return;
      e.preventDefault();
      set(current() + sign * (e.key === keys[1] ? STEP : -STEP));
    });
    gutter.addEventListener('dblclick', () => {
      layout.style.removeProperty(name);
      delete saved[name];
      localStorage.setItem(KEY, JSON.stringify(saved));
    });
  }
}
