// OAuth 2.1 resource server: JWT access tokens checked against the issuer's published keys.
import { createRemoteJWKSet, errors as joseErrors, jwtVerify, type JWTPayload } from "jose";
import { isScope, type Scope } from "../executions/principal.js";

/** Clock difference tolerated on exp/nbf/iat, in seconds. */
export const CLOCK_SKEW_SECONDS = 30;
/** Signature algorithms accepted: asymmetric only (an HMAC key would have to be shared with us). */
const ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"];
const DISCOVERY_TIMEOUT_MS = 5_000;
/** After a failed discovery, the next attempt waits this long (a token arriving meanwhile is refused). */
const DISCOVERY_RETRY_MS = 10_000;

/** Why a JWT was refused, in words safe to send back (no claim values, no token). */
export class JwtRejected extends Error {
  constructor(message: string) {
    super(message);
    this.name = "JwtRejected";
  }
}

/** A JWT that passed every check. */
export interface VerifiedJwt {
  /** "oauth:" + sub (or client_id): never equal to a static token's name, which has no ':'. */
  principalId: string;
  scopes: Scope[];
  clientId: string;
  expiresAt: number;
  audience: string;
}

export interface JwtVerifierOptions {
  issuer: string;
  /** This server's public URL: the audience a token must name (RFC 8707). */
  audience: string;
  fetch?: typeof fetch;
}

/** Where RFC 8414 and OpenID Connect say an issuer's metadata lives, in the order tried. */
export function metadataUrls(issuer: string): string[] {
  const url = new URL(issuer);
  const path = url.pathname === "/" ? "" : url.pathname.replace(/\/$/, "");
  return [`${url.origin}/.well-known/oauth-authorization-server${path}`, `${url.origin}${path}/.well-known/openid-configuration`];
}

const sameIssuer = (a: string, b: string): boolean => a.replace(/\/$/, "") === b.replace(/\/$/, "");

/** Scopes a token grants, from `scope` (space-separated) or `scp` (array or string); others ignored. */
export function scopesOf(payload: JWTPayload): Scope[] {
  const raw = payload.scope ?? payload.scp;
  const words = Array.isArray(raw) ? raw.filter((item): item is string => typeof item === "string") : typeof raw === "string" ? raw.split(" ") : [];
  return [...new Set(words.filter(isScope))];
}

/** Verifies access tokens of one issuer; discovers its jwks_uri on first use (and again after a failure). */
export class JwtVerifier {
  private keys: ReturnType<typeof createRemoteJWKSet> | null = null;
  private discovery: Promise<void> | null = null;
  private failedAt = 0;
  private issuer: string;
  private readonly audiences: string[];
  private readonly fetcher: typeof fetch;

  constructor(options: JwtVerifierOptions) {
    this.issuer = options.issuer;
    const trimmed = options.audience.replace(/\/$/, "");
    this.audiences = [trimmed, `${trimmed}/`];
    this.fetcher = options.fetch ?? fetch;
  }

  /** Reads the issuer's metadata and sets up its key set; throws with the reason when it cannot. */
  async discover(): Promise<void> {
    const problems: string[] = [];
    for (const url of metadataUrls(this.issuer)) {
      let metadata: { issuer?: unknown; jwks_uri?: unknown };
      try {
        const response = await this.fetcher(url, { signal: AbortSignal.timeout(DISCOVERY_TIMEOUT_MS), headers: { accept: "application/json" } });
        if (!response.ok) {
          problems.push(`${url}: HTTP ${response.status}`);
          continue;
        }
        metadata = (await response.json()) as typeof metadata;
      } catch (error) {
        problems.push(`${url}: ${error instanceof Error ? error.message : String(error)}`);
        continue;
      }
      if (typeof metadata.issuer !== "string" || !sameIssuer(metadata.issuer, this.issuer)) {
        throw new Error(`${url} names the issuer ${JSON.stringify(metadata.issuer)}, not ${this.issuer}`);
      }
      if (typeof metadata.jwks_uri !== "string") throw new Error(`${url} has no jwks_uri`);
      const jwksUrl = new URL(metadata.jwks_uri);
      const loopback = ["localhost", "127.0.0.1", "[::1]"].includes(jwksUrl.hostname);
      if (jwksUrl.protocol !== "https:" && !(jwksUrl.protocol === "http:" && loopback)) throw new Error(`jwks_uri ${jwksUrl.href} must be https`);
      // Tokens carry the issuer exactly as its metadata spells it.
      this.issuer = metadata.issuer;
      this.keys = createRemoteJWKSet(jwksUrl, { timeoutDuration: DISCOVERY_TIMEOUT_MS, cooldownDuration: 30_000 });
      return;
    }
    throw new Error(`no authorization server metadata for ${this.issuer}: ${problems.join("; ")}`);
  }

  private async ready(): Promise<ReturnType<typeof createRemoteJWKSet>> {
    if (this.keys) return this.keys;
    if (!this.discovery && Date.now() - this.failedAt >= DISCOVERY_RETRY_MS) {
      this.discovery = this.discover().catch((error: unknown) => {
        this.failedAt = Date.now();
        this.discovery = null;
        throw error;
      });
    }
    if (!this.discovery) throw new Error("the authorization server could not be reached recently");
    await this.discovery;
    if (!this.keys) throw new Error("no key set");
    return this.keys;
  }

  /** The verified token's principal and scopes; JwtRejected for a token that fails a check, Error when the issuer cannot be reached. */
  async verify(token: string): Promise<VerifiedJwt> {
    const keys = await this.ready();
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, keys, {
        issuer: this.issuer,
        audience: this.audiences,
        algorithms: ALGORITHMS,
        clockTolerance: CLOCK_SKEW_SECONDS,
        requiredClaims: ["exp"],
      }));
    } catch (error) {
      // Not the token's fault: the caller answers a server error, not 401.
      if (error instanceof joseErrors.JWKSTimeout) throw new Error("the issuer's keys could not be fetched in time");
      throw new JwtRejected(reasonFor(error));
    }
    const subject = typeof payload.sub === "string" && payload.sub !== "" ? payload.sub : typeof payload.client_id === "string" ? payload.client_id : "";
    if (subject === "") throw new JwtRejected("the token names no subject (sub or client_id)");
    const clientId = typeof payload.client_id === "string" ? payload.client_id : typeof payload.azp === "string" ? payload.azp : subject;
    return { principalId: `oauth:${subject}`, scopes: scopesOf(payload), clientId, expiresAt: (payload.exp ?? 0) + CLOCK_SKEW_SECONDS, audience: this.audiences[0] ?? "" };
  }
}

/** A fixed sentence per failure: jose's own messages can quote claim values. */
function reasonFor(error: unknown): string {
  if (error instanceof joseErrors.JWTExpired) return "the token has expired";
  if (error instanceof joseErrors.JWTClaimValidationFailed) {
    if (error.claim === "aud") return "the token was not issued for this server (audience)";
    if (error.claim === "iss") return "the token is from another issuer";
    if (error.claim === "nbf") return "the token is not valid yet";
    if (error.claim === "exp") return "the token has no valid expiry";
    return "a claim of the token is not valid";
  }
  if (error instanceof joseErrors.JWSSignatureVerificationFailed) return "the token's signature does not verify";
  if (error instanceof joseErrors.JWKSNoMatchingKey) return "the token is signed with a key the issuer does not publish";
  if (error instanceof joseErrors.JOSEAlgNotAllowed) return "the token's signature algorithm is not accepted";
  return "the token is not a valid JWT access token";
}
