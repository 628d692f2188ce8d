// A real OpenID Connect provider (the `oidc-provider` package) on loopback, for
// Roster's single sign-on tests. It is the provider's own code and its own login
// page; this file only configures it for a test:
//
// * it listens on 127.0.0.1 at a free port and prints `listening <issuer>` once ready;
// * clients register themselves (`POST /reg`), so each test brings its own
//   redirect address;
// * anyone may sign in with any password (the package's development login page);
//   the login is the person's email address and the account's id (`sub`), and
//   the claims follow from it: `email_verified` is false for addresses that start
//   with `unverified`;
// * consent is granted without a page, as a company's own provider does for its
//   own applications.
//
// `node provider.mjs` (Node 20 or later); `scripts/ensure-oidc-provider` installs it.
import { createServer } from 'node:http';
import { generateKeyPair, exportJWK } from 'jose';
import Provider from 'oidc-provider';

const { privateKey } = await generateKeyPair('RS256', { extractable: true });
const jwk = { ...(await exportJWK(privateKey)), kid: 'test-key-1', alg: 'RS256', use: 'sig' };

const server = createServer();
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const issuer = `http://127.0.0.1:${server.address().port}`;

const claimsOf = (login) => {
  const email = String(login).trim().toLowerCase();
  const local = email.split('@')[0] ?? email;
  return {
    sub: email,
    email,
    email_verified: !email.startsWith('unverified'),
    name: local.split(/[._-]/).map((w) => w.charAt(0).toUpperCase() + w.slice(1)).join(' '),
  };
};

const provider = new Provider(issuer, {
  jwks: { keys: [jwk] },
  cookies: { keys: ['roster-test-cookie-key'] },
  claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
  scopes: ['openid', 'email', 'profile'],
  features: {
    devInteractions: { enabled: true },
    registration: { enabled: true },
  },
  pkce: { required: () => true },
  async findAccount(_ctx, id) {
    const claims = claimsOf(id);
    return { accountId: claims.sub, claims: async () => claims };
  },
  async loadExistingGrant(ctx) {
    const id = ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (id) {
      return ctx.oidc.provider.Grant.find(id);
    }
    const grant = new ctx.oidc.provider.Grant({
      clientId: ctx.oidc.client.clientId,
      accountId: ctx.oidc.session.accountId,
    });
    grant.addOIDCScope('openid email profile');
    await grant.save();
    return grant;
  },
});
server.on('request', provider.callback());
console.log(`listening ${issuer}`);
