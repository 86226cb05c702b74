// ctxmap's map UI: sign-in, then a MapLibre map with the anonymised heat
// hexagons and context records, and side panels for what the user's role
// may do. Plain ES modules, no framework, no bundler; MapLibre GL JS v6 is
// served from /vendor/ by the Go binary. Nothing here talks to any host but
// the page's own server unless the server configures a raster basemap.
import { get, del, api, setCsrfToken, setUnauthorizedHandler, ApiError } from './api.js';
import { $, $$, announce, showError } from './dom.js';
import { readView, writeView } from './viewstate.js';
import { normaliseTaxonomy } from './taxonomy.js';
import { ContextPanel } from './contextpanel.js';
import { Search } from './search.js';
import { Records } from './records.js';
import { Notifications } from './notifications.js';
import { setupDialog } from './dialog.js';
import { HeatView } from './heatview.js';
import { AreaTrend } from './areatrend.js';
import { AreaBeforeAfter } from './areabeforeafter.js';
import { MapControls } from './mapcontrols.js';
import { OpenContext } from './opencontext.js';
import { Hotspots } from './hotspots.js';

// How a role is named in the header: words for people, not a rule.
const roleNames = {
  practitioner: 'practitioner', context_lead: 'context lead', analyst: 'analyst', admin: 'administrator',
};

class App {
  constructor() {
    this.user = null;
    this.capabilities = []; // what the role is offered, from the session
    this.view = {};
    this.pick = null;
    this.area = null; // the area whose trend is shown (areatrend.js)
  }

  /** Whether the UI offers cap; the server sends the list with the session and decides for real. */
  can(cap) { return this.capabilities.includes(cap); }

  // ---- session -------------------------------------------------------------

  async boot() {
    setupDialog();
    setUnauthorizedHandler(() => this.sessionEnded());
    $('#login-form').addEventListener('submit', (e) => { e.preventDefault(); this.login(); });
    $('#signout').addEventListener('click', () => this.logout());
    try {
      // How people sign in here (password, single sign-on or both): the
      // server's settings, not the page's.
      this.methods = await get('/api/v1/auth/methods');
    } catch (err) {
      this.methods = { password: true, oidc: null };
      this.showLogin(err.message);
      return;
    }
    this.setupSignIn();
    let me = null;
    try {
      me = await get('/api/v1/me', { quiet401: true });
    } catch (err) {
      if (!(err instanceof ApiError) || err.status !== 401) {
        this.showLogin(err.message);
        return;
      }
    }
    if (me && me.user) await this.start(me);
    else this.showLogin();
  }

  /** Offer the sign-in methods the server has switched on. */
  setupSignIn() {
    const { password, oidc } = this.methods;
    $('#sso').hidden = !oidc;
    $('#sso-or').hidden = !(oidc && password);
    $('#password-login').hidden = !password;
    $('#login-submit').hidden = !password;
    if (oidc) {
      const link = $('#sso-link');
      link.textContent = `Sign in with ${oidc.name}`;
      // Back to this view of the map after the provider's sign-in.
      const back = location.pathname + location.hash;
      link.href = back === '/' ? oidc.login_url : `${oidc.login_url}?return_to=${encodeURIComponent(back)}`;
    }
  }

  showLogin(message) {
    $('#app-view').hidden = true;
    $('#whoami').hidden = true;
    $('#login-view').hidden = false;
    showError($('#login-error'), message || '');
    if (this.methods && !this.methods.password) $('#sso-link').focus();
    else $('#login-name').focus();
  }

  async login() {
    const name = $('#login-name').value.trim();
    const password = $('#login-password').value;
    const err = $('#login-error');
    if (!name || !password) {
      showError(err, 'Give your user name and password.');
      (name ? $('#login-password') : $('#login-name')).focus();
      return;
    }
    const button = $('#login-form button[type=submit]');
    button.disabled = true;
    try {
      const s = await api('POST', '/api/v1/session', { name, password }, { quiet401: true });
      $('#login-password').value = '';
      showError(err, '');
      if (this.started) {
        location.reload(); // the session had ended mid-use: start clean
        return;
      }
      await this.start(s);
    } catch (e) {
      showError(err, e.message);
      $('#login-password').focus();
    } finally {
      button.disabled = false;
    }
  }

  async logout() {
    let redirect = '';
    try {
      if (this.methods && this.methods.oidc) {
        // Ends the session here; redirect is the provider's own sign-out
        // (empty after a password sign-in, or when it has none).
        ({ redirect } = await api('POST', '/api/v1/auth/oidc/logout'));
      } else {
        await del('/api/v1/session');
      }
    } catch { /* signing out anyway */ }
    setCsrfToken('');
    if (redirect) location.assign(redirect);
    else location.reload();
  }

  sessionEnded() {
    if (!$('#login-view').hidden) return;
    this.showLogin('Your session has ended. Sign in again to carry on.');
  }

  // ---- start-up ------------------------------------------------------------

  async start(session) {
    this.user = session.user;
    this.capabilities = session.capabilities;
    this.started = true;
    setCsrfToken(session.csrf_token);
    $('#login-view').hidden = true;
    $('#app-view').hidden = false;
    $('#whoami').hidden = false;
    const u = this.user;
    $('#whoami-text').textContent = `${u.name} (${roleNames[u.role] || u.role}${u.team ? `, ${u.team}` : ''})`;
    for (const el of $$('[data-can]')) el.hidden = !el.dataset.can.split(/\s+/).some((c) => this.can(c));

    const [config, taxonomy] = await Promise.all([get('/api/v1/config'), get('/api/v1/taxonomy')]);
    this.config = config; // the map's rules, from the Go packages that own them
    this.k = config.k;
    this.taxonomy = normaliseTaxonomy(taxonomy);
    this.view = readView();

    this.setupHeatControls();
    this.setupContextControls();
    this.setupMap();
    this.detail = new ContextPanel(this);
    if (this.can('search')) this.search = new Search(this);
    if (this.can('record')) this.records = new Records(this);
    if (this.can('link')) this.notifications = new Notifications(this);
    if (this.can('manage')) this.openContextForm = new OpenContext(this);
    if (this.can('hotspots')) this.hotspots = new Hotspots(this);
    if (this.can('trend')) this.setupAreaTrend();
    document.addEventListener('keydown', (e) => { if (e.key === 'Escape' && this.pick) this.stopPick(true); });
    window.addEventListener('hashchange', () => this.applyHash());
    announce(`Signed in as ${u.name}. The map shows ${this.heatDescription()}.`);
  }

  // ---- the shareable view ----------------------------------------------------

  setView(partial) {
    Object.assign(this.view, partial);
    if (this.map) {
      const c = this.map.getCenter();
      this.view.center = [c.lng, c.lat];
      this.view.zoom = this.map.getZoom();
    }
    writeView(this.view); // replaceState: no hashchange event, no history entry
  }

  /** Someone pasted or edited a link while the page was open. */
  applyHash() {
    const v = readView();
    if (v.center && this.map) this.map.jumpTo({ center: v.center, zoom: v.zoom });
    let heat = false;
    if (this.config.layers.includes(v.layer) && v.layer !== this.heatFilters().layer) { $(`input[name="layer"][value="${v.layer}"]`).checked = true; heat = true; }
    if (v.category && v.category !== $('#heat-category').value && $(`#heat-category option[value="${CSS.escape(v.category)}"]`)) { $('#heat-category').value = v.category; heat = true; }
    if (v.period && v.period !== $('#heat-period').value && $(`#heat-period option[value="${CSS.escape(v.period)}"]`)) { $('#heat-period').value = v.period; heat = true; }
    if (heat) this.heatChanged();
    if (v.status && v.status !== this.contextStatus() && ['open', 'closed', 'all'].includes(v.status)) {
      $('#contexts-status').value = v.status;
      $('#contexts-status').dispatchEvent(new Event('change'));
    }
  }

}

// The App's other areas live in their own modules as classes whose methods
// are mixed into App, so each reads as one responsibility while they share
// one `this`.
for (const part of [HeatView, AreaTrend, AreaBeforeAfter, MapControls]) {
  for (const name of Object.getOwnPropertyNames(part.prototype)) {
    if (name !== 'constructor') Object.defineProperty(App.prototype, name, Object.getOwnPropertyDescriptor(part.prototype, name));
  }
}

const app = new App();
window.ctxmapApp = app;
app.boot();
