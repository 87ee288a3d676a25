// The system tree: a WAI-ARIA tree (the navigation treeview pattern). Each node is a link with role treeitem; a
// node with children has aria-expanded and owns its group. One node is in the tab order at a time (roving
// tabindex); the arrow keys move (Down/Up: next/previous visible node; Right: open, then first child; Left: close,
// then parent), Home/End go to the first/last node, Enter follows the link, * opens every sibling.

import { h, clear } from './ui.js';
import { icon } from './icons.js';

// node key -> expanded, for the nodes the user opened or closed (the rest follow `open` below)
const toggled = new Map();
let nodeCount = 0;

// node: {key, href, text, kind, open, children: [node], extra}
function item(node, here, level) {
  const kids = node.children || [];
  const expanded = kids.length ? (toggled.has(node.key) ? toggled.get(node.key) : !!node.open) : undefined;
  const groupId = kids.length ? `tree-group-${++nodeCount}` : undefined;
  const link = h(
    'a',
    {
      href: node.href,
      role: 'treeitem',
      tabindex: '-1',
      'data-key': node.key,
      'aria-level': String(level),
      // named explicitly: a name from its content would take in the group it owns
      'aria-label': `${node.text}${node.extra || ''}`,
      'aria-expanded': kids.length ? String(expanded) : undefined,
      'aria-owns': groupId,
      'aria-current': here === node.href ? 'page' : undefined,
      class: here === node.href ? 'current' : undefined,
    },
    kids.length ? h('span', { class: 'twisty', 'aria-hidden': 'true' }) : h('span', { class: 'twisty leaf' }),
    icon(node.kind),
    node.text,
  );
  link.querySelector('.twisty').addEventListener('click', (ev) => {
    if (!kids.length) return;
    ev.preventDefault();
    setExpanded(link, link.getAttribute('aria-expanded') !== 'true');
  });
  const group = kids.length
    ? h(
        'ul',
        { role: 'group', id: groupId, 'aria-label': node.text, hidden: !expanded },
        kids.map((k) => item(k, here, level + 1)),
      )
    : null;
  return h('li', { role: 'none' }, link, group);
}

function setExpanded(link, on) {
  link.setAttribute('aria-expanded', String(on));
  toggled.set(link.dataset.key, on);
  const group = document.getElementById(link.getAttribute('aria-owns'));
  if (group) group.hidden = !on;
}

function visibleItems(root) {
  return [...root.querySelectorAll('[role=treeitem]')].filter((el) => !el.closest('[hidden]'));
}

function parentItem(link) {
  const group = link.closest('ul[role=group]');
  return group ? group.parentElement.querySelector(':scope > [role=treeitem]') : null;
}

function moveTo(root, target) {
  if (!target) return;
  for (const el of root.querySelectorAll('[role=treeitem][tabindex="0"]')) el.tabIndex = -1;
  target.tabIndex = 0;
  target.focus();
}

function onKey(root, ev) {
  const link = ev.target.closest('[role=treeitem]');
  if (!link) return;
  const items = visibleItems(root);
  const i = items.indexOf(link);
  const expandable = link.hasAttribute('aria-expanded');
  const open = link.getAttribute('aria-expanded') === 'true';
  const handled = {
    ArrowDown: () => moveTo(root, items[i + 1]),
    ArrowUp: () => moveTo(root, items[i - 1]),
    Home: () => moveTo(root, items[0]),
    End: () => moveTo(root, items[items.length - 1]),
    ArrowRight: () => {
      if (expandable && !open) setExpanded(link, true);
      else if (expandable) moveTo(root, visibleItems(root)[i + 1]);
    },
    ArrowLeft: () => {
      if (expandable && open) setExpanded(link, false);
      else moveTo(root, parentItem(link));
    },
    '*': () => {
      const siblings = link.closest('ul').querySelectorAll(':scope > li > [role=treeitem][aria-expanded]');
      for (const s of siblings) setExpanded(s, true);
    },
  }[ev.key];
  if (!handled) return;
  ev.preventDefault();
  handled();
}

// Draw the tree into `nav` (kept across renders: the focus stays on the same node, the keys stay bound once).
export function renderTree(nav, nodes, label) {
  const here = location.hash || '#/datacenters';
  const focusedKey = nav.contains(document.activeElement) ? document.activeElement.dataset.key : null;
  nodeCount = 0;
  const root = h(
    'ul',
    { role: 'tree', 'aria-label': label },
    nodes.map((n) => item(n, here, 1)),
  );
  clear(nav, root);
  if (!nav.dataset.keys) {
    nav.dataset.keys = 'bound';
    nav.addEventListener('keydown', (ev) => onKey(nav, ev));
    nav.addEventListener('focusin', (ev) => {
      const link = ev.target.closest('[role=treeitem]');
      if (link && link.tabIndex !== 0) moveTo(nav, link);
    });
  }
  const items = visibleItems(root);
  const current =
    items.find((el) => el.dataset.key === focusedKey) ||
    items.find((el) => el.hasAttribute('aria-current')) ||
    items[0];
  if (current) current.tabIndex = 0;
  if (focusedKey && current) current.focus({ preventScroll: true });
}
