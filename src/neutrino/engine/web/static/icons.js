// Inline SVG icons (no external assets). Neutron providers get their own mark; other provider types a plug.

const PATHS = {
  system:
    '<rect x="2" y="3" width="12" height="8" rx="1" fill="none" stroke="currentColor"/><path d="M5 14h6M8 11v3" stroke="currentColor"/>',
  folder: '<path d="M1.5 4.5h5l1 1.5h7v7.5h-13z" fill="#f0c75e" stroke="#b08a26"/>',
  datacenter:
    '<rect x="3" y="2" width="10" height="12" fill="#dfe7f1" stroke="#4d6b8c"/><path d="M5 5h6M5 8h6M5 11h6" stroke="#4d6b8c"/>',
  cluster:
    '<circle cx="5" cy="5" r="2.5" fill="#cfe3d6" stroke="#2f7a4b"/><circle cx="11" cy="5" r="2.5" fill="#cfe3d6" stroke="#2f7a4b"/><circle cx="8" cy="11" r="2.5" fill="#cfe3d6" stroke="#2f7a4b"/>',
  network: '<circle cx="8" cy="8" r="2" fill="#4d6b8c"/><path d="M8 1v5M8 10v5M1 8h5M10 8h5" stroke="#4d6b8c"/>',
  extnetwork:
    '<circle cx="8" cy="8" r="2" fill="#5b55c9"/><path d="M8 1v5M8 10v5M1 8h5M10 8h5" stroke="#5b55c9" stroke-dasharray="2 1"/>',
  host: '<rect x="2" y="3" width="12" height="4" rx="1" fill="#dfe7f1" stroke="#4d6b8c"/><rect x="2" y="9" width="12" height="4" rx="1" fill="#dfe7f1" stroke="#4d6b8c"/><circle cx="11.5" cy="5" r="1" fill="#1b7f3b"/><circle cx="11.5" cy="11" r="1" fill="#1b7f3b"/>',
  hostdown:
    '<rect x="2" y="3" width="12" height="4" rx="1" fill="#f4f5f7" stroke="#8a93a0"/><rect x="2" y="9" width="12" height="4" rx="1" fill="#f4f5f7" stroke="#8a93a0"/><circle cx="11.5" cy="5" r="1" fill="#b3261e"/><circle cx="11.5" cy="11" r="1" fill="#b3261e"/>',
  provider: '<path d="M6 1v4M10 1v4M4 5h8v3a4 4 0 0 1-8 0zM8 12v3" stroke="#5b6575" fill="#e4e7eb"/>',
  neutron:
    '<circle cx="8" cy="8" r="6.5" fill="#e8393f"/><circle cx="8" cy="8" r="2.2" fill="#fff"/><path d="M8 1.5v4.3M8 10.2v4.3M1.5 8h4.3M10.2 8h4.3" stroke="#fff" stroke-width="1.2"/>',
};

export function icon(kind) {
  const span = document.createElement('span');
  span.className = 'icon';
  span.setAttribute('aria-hidden', 'true');
  span.innerHTML = `<svg class="icon" viewBox="0 0 16 16">${PATHS[kind] || PATHS.folder}</svg>`;
  return span;
}

export function providerTypeLabel(type) {
  return type === 'neutron' ? 'OpenStack Networking' : type === 'external' ? 'External Network Provider' : type || '—';
}
