import { test } from 'node:test';
import { startHarness, Browser, authorizeUrl, pkcePair } from './helpers/harness.js';
import { seedBasics, authorize, DOC, REDIRECT } from './helpers/flows.js';
test('dbg', async () => {
  const h = await startHarness(); seedBasics(h);
  try {
    const r = await authorize(h, { clientId: 'app', scope: 'user/*.rs', login: DOC });
    const launch = h.launch({ parameters: { patient: 'BILIBABY' }, username: 'pat' });
    const { challenge } = pkcePair();
    const back = await r.browser.go(authorizeUrl(h, { client_id: 'app', redirect_uri: REDIRECT, scope: 'launch openid fhirUser patient/*.rs', launch, code_challenge: challenge, code_challenge_method: 'S256' }), REDIRECT);
    console.log(back, r.browser.page.slice(-800));
  } finally { await h.close(); }
});
