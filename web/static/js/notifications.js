// A practitioner's notifications: changes to context records their young
// people are linked to, grouped by context (newest group first), so sixty
// changes to three places read as three groups. Each notification opens its
// record and can be marked read on its own; a group, or everything, can be
// marked read at once. Loaded at sign-in and whenever the panel is opened.
// The map page and the workspace both use it, on the same element ids.
import { get, post } from './api.js';
import { h, fill, $, announce, formatTime, humanise } from './dom.js';

export class Notifications {
  constructor(app) {
    this.app = app;
    this.items = [];
    const panel = $('#panel-notifications');
    if (panel.tagName === 'DETAILS') panel.addEventListener('toggle', (e) => { if (e.target.open) this.load(); });
    $('#notif-read').addEventListener('click', () => this.markAll());
    this.load({ quiet: true });
  }

  async load({ quiet = false } = {}) {
    let data;
    try {
      data = await get('/api/v1/me/notifications');
    } catch (err) {
      fill($('#notif-list'), h('li', { class: 'error', text: err.message }));
      return;
    }
    this.items = data.notifications;
    const unread = this.items.filter((n) => !n.read).length;
    $('#notif-count').textContent = unread ? `(${unread} new)` : '';
    $('#notif-read').hidden = unread === 0;
    const groups = groupByContext(this.items);
    fill($('#notif-list'), groups.length
      ? groups.map((g) => this.renderGroup(g))
      : h('li', { class: 'note', text: 'No notifications yet. Link a young person to a context to hear about changes to it.' }));
    if (!quiet) announce(unread ? `${unread} new notifications about ${groups.filter((g) => g.unread).length} context records.` : 'No new notifications.');
  }

  renderGroup(g) {
    const open = (e) => { this.app.detail.returnFocus = e.currentTarget; this.app.openContext({ id: g.contextId }); };
    return h('li', { class: 'notif-group', dataset: { contextId: String(g.contextId) } },
      h('div', { class: 'notif-group-head' },
        h('button', { type: 'button', class: 'result-btn', onclick: open },
          h('span', { text: g.name }),
          g.unread ? h('span', { class: 'status-badge status-open', text: `${g.unread} new` }) : null,
          h('span', { class: 'meta', text: `${g.items.length} ${g.items.length === 1 ? 'change' : 'changes'}, latest ${formatTime(g.items[0].at)}` })),
        g.unread > 1 ? h('button', {
          type: 'button', class: 'btn btn-small', onclick: () => this.markGroup(g),
          'aria-label': `Mark the ${g.unread} new notifications about ${g.name} as read`,
        }, 'Mark these read') : null),
      h('ul', { class: 'notif-items' }, g.items.map((n) => h('li', { class: n.read ? 'read' : 'unread', dataset: { notificationId: String(n.id) } },
        h('span', { text: `${n.summary || humanise(n.event)}` }),
        h('span', { class: 'meta', text: ` ${formatTime(n.at)}` }),
        n.read ? null : h('button', {
          type: 'button', class: 'btn btn-small', onclick: () => this.markOne(n),
          'aria-label': `Mark as read: ${n.summary}, ${g.name}`,
        }, 'Mark read')))));
  }

  async markOne(n) {
    await this.mark(() => post(`/api/v1/me/notifications/${encodeURIComponent(n.id)}/read`), 'Notification marked as read.');
  }

  async markGroup(g) {
    await this.mark(() => post('/api/v1/me/notifications/read', { up_to: g.items[0].id, context_id: g.contextId }),
      `Notifications about ${g.name} marked as read.`);
  }

  async markAll() {
    const upTo = Math.max(0, ...this.items.map((n) => n.id));
    await this.mark(() => post('/api/v1/me/notifications/read', { up_to: upTo }), 'Notifications marked as read.');
    $('#panel-notifications > summary, #panel-notifications h2').focus();
  }

  async mark(call, message) {
    try {
      await call();
    } catch (err) {
      announce(`Could not mark them as read: ${err.message}`);
      return;
    }
    await this.load({ quiet: true });
    announce(message);
  }
}

/** Notifications (newest first) grouped by context, the group with the newest first. */
function groupByContext(items) {
  const groups = new Map();
  for (const n of items) {
    let g = groups.get(n.context_id);
    if (!g) {
      g = { contextId: n.context_id, name: n.display_name, items: [], unread: 0 };
      groups.set(n.context_id, g);
    }
    g.items.push(n);
    if (!n.read) g.unread++;
  }
  return [...groups.values()];
}
