// One verifier for both kinds of bearer token, in the shape the SDK's requireBearerAuth takes.
// Its answer carries the Principal the tools read (authInfo.extra.principal).
import type { OAuthTokenVerifier } from "@modelcontextprotocol/sdk/server/auth/provider.js";
import { InvalidTokenError } from "@modelcontextprotocol/sdk/server/auth/errors.js";
import type { AuthInfo } from "@modelcontextprotocol/sdk/server/auth/types.js";
import type { Principal, Scope } from "../executions/principal.js";
import { JwtRejected, type JwtVerifier } from "./jwt-verifier.js";
import type { StaticTokens } from "./token-file.js";

/** Static tokens do not expire; each request is checked against the file, so a nominal hour is reported. */
const STATIC_EXPIRY_SECONDS = 3_600;
// header.payload.signature, base64url: worth trying as a JWT.
const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

/** A principal as authentication decided it, before the request's address is known. */
export function makePrincipal(id: string, scopes: readonly Scope[], remoteAddress: string | null = null): Principal {
  return Object.freeze({ id, scopes: new Set(scopes), remoteAddress });
}

/** The principal authentication put into a request's authInfo, if any. */
export function authenticatedPrincipal(authInfo: AuthInfo | undefined): Principal | null {
  const principal = authInfo?.extra?.principal as Principal | undefined;
  return principal && typeof principal.id === "string" && principal.scopes instanceof Set ? principal : null;
}

export interface BearerVerifierOptions {
  tokens: StaticTokens;
  jwt: JwtVerifier | null;
  now?: () => number;
}

/**
 * Static tokens first (a hash lookup), then, when an issuer is configured and the token looks like
 * a JWT, the issuer's keys. The token itself is not kept in the answer: nothing downstream needs it,
 * so nothing downstream can log it.
 */
export class BearerVerifier implements OAuthTokenVerifier {
  constructor(private readonly options: BearerVerifierOptions) {}

  async verifyAccessToken(token: string): Promise<AuthInfo> {
    const now = this.options.now ?? Date.now;
    const matched = await this.options.tokens.verify(token);
    if (matched) {
      const principal = makePrincipal(matched.name, matched.scopes);
      return { token: "[redacted]", clientId: matched.name, scopes: matched.scopes, expiresAt: Math.floor(now() / 1000) + STATIC_EXPIRY_SECONDS, extra: { principal } };
    }
    if (this.options.jwt && JWT_SHAPE.test(token)) {
      try {
        const verified = await this.options.jwt.verify(token);
        const principal = makePrincipal(verified.principalId, verified.scopes);
        return { token: "[redacted]", clientId: verified.clientId, scopes: verified.scopes, expiresAt: verified.expiresAt, resource: new URL(verified.audience), extra: { principal } };
      } catch (error) {
        if (error instanceof JwtRejected) throw new InvalidTokenError(error.message);
        throw error;
      }
    }
    throw new InvalidTokenError("the token is not valid for this server");
  }
}
