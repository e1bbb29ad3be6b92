// A real OAuth 2.1 authorization server on loopback (oidc-provider), issuing JWT access tokens for
// one resource (RFC 8707), with its login and consent done programmatically: whoever reaches the
// interaction is "alice" and is granted the scopes the test chose. Its signing key is made here,
// so tests can also sign tokens of their own with it (wrong issuer, audience, expiry, scopes).
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { exportJWK, generateKeyPair, SignJWT, type JWK } from "jose";
import Provider from "oidc-provider";

export const CLIENT_ID = "bpftrace-test-client";
export const SIGNING_KID = "test-signing-key";

export interface AuthorizationServer {
  issuer: string;
  /** Signs a JWT with the server's own key (kid and alg as its tokens have). */
  sign: (claims: Record<string, unknown>, options?: { expiresIn?: string | number; key?: "own" | "foreign"; issuer?: string; audience?: string }) => Promise<string>;
  /** Where the client must send the user back to; must be served by the test's redirect catcher. */
  redirectUri: string;
  /** The scopes the next interaction grants. */
  grantScopes: (scopes: string) => void;
  close: () => Promise<void>;
}

export async function startAuthorizationServer(options: { resource: () => string; redirectUri: string }): Promise<AuthorizationServer> {
  const { privateKey, publicKey } = await generateKeyPair("RS256", { extractable: true });
  const foreign = await generateKeyPair("RS256", { extractable: true });
  const privateJwk: JWK = { ...(await exportJWK(privateKey)), kid: SIGNING_KID, alg: "RS256", use: "sig" };
  void publicKey;
  const http: Server = createServer();
  await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
  const issuer = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
  let grantedScopes = "bpftrace:trace";

  const provider = new Provider(issuer, {
    jwks: { keys: [privateJwk] },
    clients: [{ client_id: CLIENT_ID, token_endpoint_auth_method: "none", redirect_uris: [options.redirectUri], grant_types: ["authorization_code", "refresh_token"], response_types: ["code"] }],
    scopes: ["openid", "offline_access", "bpftrace:read", "bpftrace:trace", "bpftrace:admin"],
    pkce: { required: () => true },
    features: {
      devInteractions: { enabled: false },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => options.resource(),
        useGrantedResource: () => true,
        getResourceServerInfo: (_ctx: unknown, resourceIndicator: string) => {
          if (resourceIndicator !== options.resource()) throw new Error(`unknown resource ${resourceIndicator}`);
          // The token gets the requested scopes that this resource server offers: the ones the test chose.
          return { scope: grantedScopes, audience: resourceIndicator, accessTokenTTL: 300, accessTokenFormat: "jwt", jwt: { sign: { alg: "RS256" } } };
        },
      },
    },
    findAccount: (_ctx: unknown, sub: string) => ({ accountId: sub, claims: () => ({ sub }) }),
  });
  provider.proxy = false;
  const callback = provider.callback();
  http.on("request", (req, res) => {
    if (req.url?.startsWith("/interaction/")) {
      // The user "logs in" as alice and consents to the scopes the test chose.
      void (async () => {
        const details = await provider.interactionDetails(req, res);
        const grant = new provider.Grant({ accountId: "alice", clientId: CLIENT_ID });
        const missing = (details.prompt.details.missingResourceScopes ?? {}) as Record<string, string[]>;
        for (const [resource, scopes] of Object.entries(missing)) grant.addResourceScope(resource, scopes.join(" "));
        const oidcScopes = (details.prompt.details.missingOIDCScope ?? []) as string[];
        if (oidcScopes.length > 0) grant.addOIDCScope(oidcScopes.join(" "));
        const grantId = await grant.save();
        await provider.interactionFinished(req, res, { login: { accountId: "alice" }, consent: { grantId } }, { mergeWithLastSubmission: false });
      })().catch((error: unknown) => {
        res.statusCode = 500;
        res.end(String(error));
      });
      return;
    }
    callback(req, res);
  });

  return {
    issuer,
    redirectUri: options.redirectUri,
    grantScopes: (scopes) => (grantedScopes = scopes),
    sign: async (claims, signOptions = {}) => {
      const key = signOptions.key === "foreign" ? foreign.privateKey : privateKey;
      const jwt = new SignJWT({ scope: "bpftrace:trace", client_id: CLIENT_ID, ...claims })
        .setProtectedHeader({ alg: "RS256", kid: SIGNING_KID, typ: "at+jwt" })
        .setIssuer(signOptions.issuer ?? issuer)
        .setAudience(signOptions.audience ?? options.resource())
        .setSubject("alice")
        .setIssuedAt()
        .setExpirationTime(signOptions.expiresIn ?? "5m");
      return jwt.sign(key);
    },
    close: async () => {
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}

/**
 * Plays the user's browser: follows the authorization URL's redirects (keeping cookies) until the
 * authorization server sends the user to `redirectUri`, and returns the code it carries.
 */
export async function authorizeInBrowser(authorizationUrl: URL, redirectUri: string): Promise<string> {
  const cookies = new Map<string, string>();
  let url = authorizationUrl.href;
  for (let hops = 0; hops < 10; hops += 1) {
    if (url.startsWith(redirectUri)) {
      const code = new URL(url).searchParams.get("code");
      if (!code) throw new Error(`the authorization server sent the user back without a code: ${url}`);
      return code;
    }
    const response = await fetch(url, { redirect: "manual", headers: { cookie: [...cookies].map(([name, value]) => `${name}=${value}`).join("; ") } });
    for (const line of response.headers.getSetCookie()) {
      const [pair = ""] = line.split(";");
      const eq = pair.indexOf("=");
      if (eq > 0) cookies.set(pair.slice(0, eq).trim(), pair.slice(eq + 1).trim());
    }
    const location = response.headers.get("location");
    if (!location) throw new Error(`no redirect from ${url}: HTTP ${response.status} ${(await response.text()).slice(0, 300)}`);
    url = new URL(location, url).href;
  }
  throw new Error("too many redirects");
}
