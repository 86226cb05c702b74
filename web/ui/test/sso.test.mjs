// Single sign-on (issue 15) through a real OpenID provider: zitadel's example
// provider (cmd/oidc-testop, started by scripts/browser-test.sh) with one
// user whose groups map to the practitioner role and whose department claim
// names the team. The page is driven as a person would: the sign-in page's
// button, the provider's own login form, back on the map signed in, then
// sign-out, which ends the provider's session too (RP-initiated logout).
import { suite, assert, waitForMap, screenshot, baseURL } from './lib.mjs';

const { tests, test } = suite();
export { tests as ssoTests };

const issuer = process.env.CTXMAP_OIDC_ISSUER;
const user = process.env.CTXMAP_OIDC_USER;
const password = process.env.CTXMAP_OIDC_PASSWORD;
const unmapped = process.env.CTXMAP_OIDC_UNMAPPED_USER;

/** Click "Sign in with ..." and sign in at the provider's own login form as name. */
async function signInAtProvider(page, name) {
  const op = new URL(issuer).origin;
  await page.locator('#sso-link').click();
  await page.waitForURL((u) => u.origin === op, { timeout: 20000 });
  await page.locator('#username').waitFor({ state: 'visible' });
  await page.fill('#username', name);
  await page.fill('#password', password);
  await page.click('button[type=submit]');
}

/** The provider's pages are the only other origin these tests may reach; its login page has no favicon. */
function forgiveProvider(page) {
  const op = new URL(issuer).origin;
  const favicon = `${op}/favicon.ico`;
  page.foreign = page.foreign.filter((u) => !u.startsWith(`${op}/`));
  page.errors = page.errors.filter((e) => !e.endsWith(favicon));
  page.failed = page.failed.filter((f) => f !== `404 ${favicon}`);
}

test('single sign-on: the provider signs the user in with the mapped role and team, and sign-out ends both sessions', async (open) => {
  assert(issuer && user && password, 'scripts/browser-test.sh starts the provider and sets CTXMAP_OIDC_ISSUER, _USER and _PASSWORD');
  const op = new URL(issuer).origin;
  const page = await open();
  await page.goto('/');
  const link = page.locator('#sso-link');
  await link.waitFor({ state: 'visible' });
  const label = (await link.textContent()).trim();
  assert(label === `Sign in with ${process.env.CTXMAP_OIDC_NAME}`, `the button says "${label}"`);
  assert(await page.locator('#login-name').isVisible(), 'the password form is still offered (--local-login on)');
  await screenshot(page, 'sso-sign-in-page');

  await signInAtProvider(page, user);

  await page.waitForURL((u) => u.href.startsWith(baseURL), { timeout: 20000 });
  await page.locator('#app-view').waitFor({ state: 'visible' });
  await waitForMap(page);
  const who = (await page.locator('#whoami-text').textContent()).trim();
  assert(who === `${user} (practitioner, Hackney North)`, `the header says "${who}"`);
  const me = await page.evaluate(() => fetch('/api/v1/me').then((r) => r.json()));
  assert(me.user.role === 'practitioner' && me.user.team === 'Hackney North', `me: ${JSON.stringify(me.user)}`);
  assert(await page.locator('#panel-notifications').isVisible(), 'a practitioner is offered their notifications');
  await screenshot(page, 'sso-signed-in');

  await page.click('#signout');
  await page.waitForURL((u) => u.href === `${baseURL}/`, { timeout: 20000 });
  await page.locator('#login-view').waitFor({ state: 'visible' });
  assert(page.requests.some((u) => u.startsWith(`${op}/`) && u.includes('end_session') && u.includes('id_token_hint=')),
    'sign-out went through the provider\'s end_session_endpoint with the ID token');
  const status = await page.evaluate(() => fetch('/api/v1/me').then((r) => r.status));
  assert(status === 401, `after sign-out /api/v1/me answers ${status}`);

  forgiveProvider(page);
});

test('single sign-on: a person in no ctxmap group is refused with a page that says what to ask for, and is not signed in', async (open) => {
  assert(issuer && unmapped, 'scripts/browser-test.sh sets CTXMAP_OIDC_UNMAPPED_USER');
  const page = await open({ allow: [[403, /\/api\/v1\/auth\/oidc\/callback/]] });
  await page.goto('/');
  await page.locator('#sso-link').waitFor({ state: 'visible' });
  const [answer] = await Promise.all([
    page.waitForResponse((r) => r.url().includes('/api/v1/auth/oidc/callback'), { timeout: 20000 }),
    signInAtProvider(page, unmapped),
  ]);
  assert(answer.status() === 403, `the callback answered ${answer.status()}`);
  const message = page.locator('#sign-in-refused-message');
  await message.waitFor({ state: 'visible' });
  const text = (await message.textContent()).trim();
  assert(text.includes('gives you no ctxmap role') && text.includes('ask your identity administrator'), `the page says "${text}"`);
  await screenshot(page, 'sso-refused');
  await page.click('text=Back to the sign-in page');
  await page.locator('#login-view').waitFor({ state: 'visible' });
  const status = await page.evaluate(() => fetch('/api/v1/me').then((r) => r.status));
  assert(status === 401, `after the refusal /api/v1/me answers ${status}`);
  forgiveProvider(page);
});
