// Small DOM helpers shared by every view: elements, tables, dialogs, messages, badges.

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') el.className = value;
    else if (key.startsWith('on')) el.addEventListener(key.slice(2), value);
    else if (key === 'value') el.value = value;
    else if (key === 'checked') el.checked = !!value;
    else el.setAttribute(key, value === true ? '' : value);
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function clear(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

const DASH = '—';
export const dash = (v) => (v === undefined || v === null || v === '' ? DASH : v);

// columns: [{title, render(row) -> node|string}]; rows are selected by click, Enter or Space,
// and the arrow keys move between them.
export function table({ columns, rows, label, empty = 'Nothing to show.', selected, onSelect, rowId = (r) => r.id }) {
  const tbody = h('tbody');
  if (!rows.length) {
    tbody.append(h('tr', {}, h('td', { class: 'empty', colspan: columns.length }, empty)));
  }
  for (const row of rows) {
    const id = rowId(row);
    const tr = h(
      'tr',
      { tabindex: '0', 'data-id': id, 'aria-selected': String(id === selected) },
      columns.map((c) => h('td', { class: c.wrap ? 'wrap' : undefined, 'data-label': c.title }, c.render(row))),
    );
    if (onSelect) {
      tr.addEventListener('click', (ev) => {
        if (ev.target.closest('a, button, input, label')) return;
        onSelect(row);
      });
      tr.addEventListener('keydown', (ev) => {
        if (ev.target !== tr) return;
        if (ev.key === 'Enter' || ev.key === ' ') {
          ev.preventDefault();
          onSelect(row);
        }
        if (ev.key === 'ArrowDown') {
          ev.preventDefault();
          tr.nextElementSibling?.focus();
        }
        if (ev.key === 'ArrowUp') {
          ev.preventDefault();
          tr.previousElementSibling?.focus();
        }
      });
    }
    tbody.append(tr);
  }
  return h(
    'div',
    { class: 'table-wrap' },
    h(
      'table',
      { 'aria-label': label },
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          columns.map((c) => h('th', { scope: 'col' }, c.title)),
        ),
      ),
      tbody,
    ),
  );
}

export function badge(text, kind = 'muted', title) {
  return h('span', { class: `badge ${kind}`, title }, text);
}

export function dot(text, kind, title) {
  return h('span', { class: `dot ${kind}`, title }, text);
}

export function busy(text) {
  return h('span', { class: 'busy', role: 'status' }, text);
}

export function yesNo(v) {
  return v === true || v === 'true' ? 'Yes' : 'No';
}

// A message in the corner: errors and warnings stay until dismissed, successes fade after a while. Only the text
// is the live region, so a screen reader reads the message and not the "×" of its Dismiss button.
export function notify(text, kind = 'error') {
  const box = document.getElementById('messages');
  const close = h('button', { type: 'button', class: 'dismiss', 'aria-label': 'Dismiss message' });
  close.append(h('span', { 'aria-hidden': 'true' }, '×'));
  const msg = h(
    'div',
    { class: `message ${kind}` },
    h('span', { class: 'text', role: kind === 'success' ? 'status' : 'alert' }, text),
    close,
  );
  close.addEventListener('click', () => msg.remove());
  box.append(msg);
  if (kind === 'success') setTimeout(() => msg.remove(), 5000);
  return msg;
}

const FOCUSABLE =
  'a[href], button:not([disabled]), input:not([disabled]):not([type=hidden]), select:not([disabled]), ' +
  'textarea:not([disabled]), [tabindex]:not([tabindex="-1"])';

function focusables(root) {
  return [...root.querySelectorAll(FOCUSABLE)].filter((el) => !el.closest('[hidden]') && el.getClientRects().length);
}

let dialogCount = 0;

// A modal dialog (native <dialog>: Escape closes it; Tab and Shift+Tab cycle inside it, never out to the page or
// the browser; the focus goes back to what opened it when it closes). actions: [{label, primary, danger, run(dlg),
// stop(dlg)}]; run may be async; an error it throws is shown in the dialog. While an action with `stop` runs,
// Cancel (then labelled Stop) and Escape ask it to stop instead of closing the dialog, so a long operation is
// never left running behind a closed dialog.
export function openDialog({ title, body, actions = [], cancelLabel = 'Cancel', onClose }) {
  const opener = document.activeElement;
  const titleId = `dlg-title-${++dialogCount}`;
  const error = h('p', { class: 'error', role: 'alert' });
  const status = h('p', { class: 'status-line', role: 'status' });
  const buttons = actions.map((a) =>
    h(
      'button',
      {
        type: a.primary ? 'submit' : 'button',
        class: a.primary ? 'primary' : a.danger ? 'danger' : undefined,
        'data-action': a.label,
      },
      a.label,
    ),
  );
  const cancel = h('button', { type: 'button', 'data-action': 'cancel' }, cancelLabel);
  const form = h(
    'form',
    { method: 'dialog', novalidate: true },
    h('header', {}, h('h2', { id: titleId }, title)),
    h('div', { class: 'body' }, body, error),
    h('footer', {}, status, buttons, cancel),
  );
  const dialog = h('dialog', { 'aria-labelledby': titleId }, form);
  let running = null;
  const dlg = {
    el: dialog,
    error(text) {
      error.textContent = text || '';
    },
    status(text, kind = '') {
      status.className = `status-line ${kind}`;
      clear(status, text || '');
    },
    busy(on) {
      for (const b of buttons) b.disabled = on;
    },
    close() {
      dialog.close();
    },
    cancelButton: cancel,
  };
  async function run(action) {
    dlg.error('');
    dlg.busy(true);
    running = action;
    if (action.stop) cancel.textContent = 'Stop';
    try {
      await action.run(dlg);
    } catch (err) {
      dlg.error(err.message || String(err));
      dlg.status('');
    } finally {
      running = null;
      cancel.textContent = cancelLabel;
      dlg.busy(false);
    }
  }
  actions.forEach((a, i) => {
    if (!a.primary) buttons[i].addEventListener('click', () => run(a));
  });
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const primary = actions.find((a) => a.primary);
    if (primary && !buttons[actions.indexOf(primary)].disabled) run(primary);
  });
  cancel.addEventListener('click', () => {
    if (running?.stop) running.stop(dlg);
    else dialog.close();
  });
  dialog.addEventListener('cancel', (ev) => {
    if (running?.stop) {
      ev.preventDefault();
      running.stop(dlg);
    }
  });
  dialog.addEventListener('keydown', (ev) => {
    if (ev.key !== 'Tab') return;
    const all = focusables(dialog);
    if (!all.length) return;
    const [first, last] = [all[0], all[all.length - 1]];
    if (ev.shiftKey && (document.activeElement === first || !dialog.contains(document.activeElement))) {
      ev.preventDefault();
      last.focus();
    } else if (!ev.shiftKey && document.activeElement === last) {
      ev.preventDefault();
      first.focus();
    }
  });
  dialog.addEventListener('close', () => {
    dialog.remove();
    // back to what opened it; if a re-render replaced it meanwhile, the page's router finds its successor
    if (opener && opener.isConnected && typeof opener.focus === 'function') opener.focus();
    if (onClose) onClose();
  });
  document.body.append(dialog);
  dialog.showModal();
  const first = dialog.querySelector(
    '.body input:not([type=hidden]):not([disabled]), .body select:not([disabled]), .body textarea:not([disabled])',
  );
  (first || buttons[0] || cancel).focus();
  return dlg;
}

// A form row: label + control, the control named for reading back. `why`: a note next to the control (the reason
// it is disabled, or what it does; text, or an element a dialog rewrites as its choices change), tied to it with
// aria-describedby so it is read with it.
export function row(label, control, why) {
  if (!control.id) control.id = `f-${Math.random().toString(36).slice(2, 9)}`;
  const note = why instanceof Node ? why : why ? h('span', { class: 'reason' }, why) : null;
  if (note) {
    if (!note.id) note.id = `${control.id}-why`;
    control.setAttribute('aria-describedby', note.id);
  }
  if (control.type === 'checkbox') {
    return [
      h('span'),
      h('div', { class: 'stack' }, h('label', { class: 'check', for: control.id }, control, label), note),
    ];
  }
  if (!note) return [h('label', { for: control.id }, label), control];
  return [h('label', { for: control.id }, label), h('div', { class: 'stack' }, control, note)];
}

// A control the engine would refuse: disabled, with the reason beside it (and read with it).
export function refuse(control, reason) {
  control.disabled = true;
  control.title = reason;
  return control;
}

export function confirmDialog(title, text, label = 'OK', extra) {
  return new Promise((resolve) => {
    let answered = false;
    openDialog({
      title,
      body: [h('p', { class: 'status-line' }, text), extra],
      actions: [
        {
          label,
          primary: true,
          run: (d) => {
            answered = true;
            d.close();
          },
        },
      ],
      onClose: () => resolve(answered),
    });
  });
}

export function formatDate(v) {
  if (!v) return DASH;
  const d = new Date(typeof v === 'number' || /^\d+$/.test(v) ? Number(v) : v);
  return Number.isNaN(d.getTime()) ? String(v) : d.toLocaleString();
}
