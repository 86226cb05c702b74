// A practitioner's notifications: changes to context records their young
// people are linked to. Each opens the record; "Mark all as read" clears
// the count. Loaded at sign-in and whenever the panel is opened.
import { get, post } from './api.js';
import { h, fill, $, announce, formatTime, humanise } from './dom.js';

export class Notifications {
  constructor(app) {
    this.app = app;
    this.items = [];
    $('#panel-notifications').addEventListener('toggle', (e) => { if (e.target.open) this.load(); });
    $('#notif-read').addEventListener('click', () => this.markRead());
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
    fill($('#notif-list'), this.items.length
      ? this.items.slice(0, 50).map((n) => h('li', {},
        h('button', {
          type: 'button', class: 'result-btn',
          onclick: (e) => { this.app.detail.returnFocus = e.currentTarget; this.app.openContext({ id: n.context_id }); },
        },
        h('span', { text: n.display_name }),
        n.read ? null : h('span', { class: 'status-badge status-open', text: 'New' }),
        h('span', { class: 'meta', text: `${n.summary || humanise(n.event)}, ${formatTime(n.at)}` }))))
      : h('li', { class: 'note', text: 'No notifications yet. Link a young person to a context to hear about changes to it.' }));
    if (!quiet) announce(unread ? `${unread} new notifications.` : 'No new notifications.');
  }

  async markRead() {
    const upTo = Math.max(0, ...this.items.map((n) => n.id));
    try {
      await post('/api/v1/me/notifications/read', { up_to: upTo });
    } catch (err) {
      announce(`Could not mark them as read: ${err.message}`);
      return;
    }
    await this.load({ quiet: true });
    announce('Notifications marked as read.');
    $('#panel-notifications > summary').focus();
  }
}
