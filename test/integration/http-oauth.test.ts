import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { UnauthorizedError, type OAuthClientProvider } from "@modelcontextprotocol/sdk/client/auth.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { OAuthClientInformationMixed, OAuthTokens } from "@modelcontextprotocol/sdk/shared/auth.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { JwtVerifier } from "../../src/auth/jwt-verifier.js";
import { authorizeInBrowser, CLIENT_ID, startAuthorizationServer, type AuthorizationServer } from "../helpers/authorization-server.js";
import { installFakeBpftrace } from "../helpers/fake-bpftrace.js";
import { INITIALIZE, postRaw, startTestHttp, toolCall, type TestHttpServer } from "../helpers/http-server.js";

const REDIRECT_URI = "http://127.0.0.1:1/callback";

/** An OAuth client as an MCP client app keeps one: in memory, the browser played by authorizeInBrowser. */
class TestOAuthClient implements OAuthClientProvider {
  savedTokens: OAuthTokens | undefined;
  verifier = "";
  authorizationUrl: URL | null = null;
  get redirectUrl(): string {
    return REDIRECT_URI;
  }
  get clientMetadata() {
    return { client_name: "bpftrace test client", redirect_uris: [REDIRECT_URI], grant_types: ["authorization_code", "refresh_token"], response_types: ["code"], token_endpoint_auth_method: "none" };
  }
  clientInformation(): OAuthClientInformationMixed {
    return { client_id: CLIENT_ID };
  }
  tokens(): OAuthTokens | undefined {
    return this.savedTokens;
  }
  saveTokens(tokens: OAuthTokens): void {
    this.savedTokens = tokens;
  }
  redirectToAuthorization(url: URL): void {
    this.authorizationUrl = url;
  }
  saveCodeVerifier(verifier: string): void {
    this.verifier = verifier;
  }
  codeVerifier(): string {
    return this.verifier;
  }
}

let authorizationServer: AuthorizationServer;
let server: TestHttpServer;
let publicUrl = "";

beforeAll(async () => {
  authorizationServer = await startAuthorizationServer({ resource: () => publicUrl, redirectUri: REDIRECT_URI });
  server = await startTestHttp({
    bpftracePath: installFakeBpftrace(),
    tokens: { static: ["bpftrace:trace"] },
    env: { BPFTRACE_MCP_OAUTH_ISSUER: authorizationServer.issuer },
    jwt: (url) => new JwtVerifier({ issuer: authorizationServer.issuer, audience: url }),
    hostOptions: { geteuid: () => 0 },
  });
  publicUrl = server.running.publicUrl;
});

afterAll(async () => {
  await server?.close();
  await authorizationServer?.close();
});

const bearer = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` });

/** Runs the SDK client's own flow: 401 → discovery → authorization code + PKCE → token → connected client. */
async function connectThroughOAuth(oauth: TestOAuthClient): Promise<Client> {
  const first = new StreamableHTTPClientTransport(new URL(server.url), { authProvider: oauth });
  const client = new Client({ name: "oauth-test", version: "1" });
  await expect(client.connect(first)).rejects.toThrow(UnauthorizedError);
  expect(oauth.authorizationUrl, "the SDK client did not start an authorization").not.toBeNull();
  const code = await authorizeInBrowser(oauth.authorizationUrl as URL, REDIRECT_URI);
  await first.finishAuth(code);
  const connected = new Client({ name: "oauth-test", version: "1" });
  await connected.connect(new StreamableHTTPClientTransport(new URL(server.url), { authProvider: oauth }));
  return connected;
}

describe("OAuth 2.1 resource server, against a real authorization server (oidc-provider) on loopback", () => {
  it("publishes Protected Resource Metadata (RFC 9728) at both well-known paths and points to it from the 401", async () => {
    const unauthorized = await postRaw(server.url, INITIALIZE);
    expect(unauthorized.status).toBe(401);
    const challenge = unauthorized.headers.get("www-authenticate") ?? "";
    const metadataUrl = /resource_metadata="([^"]+)"/.exec(challenge)?.[1];
    expect(metadataUrl).toBe(`${new URL(server.url).origin}/.well-known/oauth-protected-resource/mcp`);
    for (const url of [metadataUrl ?? "", `${new URL(server.url).origin}/.well-known/oauth-protected-resource`]) {
      const metadata = (await (await fetch(url)).json()) as Record<string, unknown>;
      expect(metadata).toMatchObject({ resource: publicUrl, authorization_servers: [authorizationServer.issuer], scopes_supported: ["bpftrace:read", "bpftrace:trace"] });
    }
  });

  it("lets the SDK client discover the issuer from our 401, get a token with authorization code + PKCE, and call a tool", async () => {
    authorizationServer.grantScopes("bpftrace:trace");
    const oauth = new TestOAuthClient();
    const client = await connectThroughOAuth(oauth);
    const authorization = oauth.authorizationUrl as URL;
    expect(authorization.searchParams.get("code_challenge_method")).toBe("S256");
    expect(authorization.searchParams.get("resource")).toBe(publicUrl);
    // The token is a JWT for our audience.
    const payload = JSON.parse(Buffer.from((oauth.savedTokens?.access_token ?? "").split(".")[1] ?? "", "base64url").toString()) as Record<string, unknown>;
    expect(payload.aud).toBe(publicUrl);
    const started = (await client.callTool({ name: "exec_program", arguments: { program: "BEGIN { exit(); }", timeout: 5 } })) as CallToolResult;
    expect(started.isError, JSON.stringify(started)).toBeFalsy();
    const listed = (await client.callTool({ name: "list_executions", arguments: {} })) as CallToolResult;
    expect(JSON.stringify(listed.structuredContent)).toContain((started.structuredContent as { execution_id: string }).execution_id);
    // The OAuth user is its own principal: the audit log names it.
    expect(server.audit.find((record) => record.event === "start")).toMatchObject({ principal: "oauth:alice", remote: "127.0.0.1" });
    await client.close();
  });

  it("answers 403 insufficient_scope to a token granted only bpftrace:read that calls exec_program", async () => {
    const token = await authorizationServer.sign({ scope: "bpftrace:read" });
    const listed = await postRaw(server.url, toolCall("list_examples"), bearer(token));
    expect(listed.status).toBe(200);
    const refused = await postRaw(server.url, toolCall("exec_program", { program: "BEGIN { exit(); }" }), bearer(token));
    expect(refused.status).toBe(403);
    expect(refused.headers.get("www-authenticate")).toMatch(/insufficient_scope", scope="bpftrace:trace".*resource_metadata=/);
  });

  const negatives: { name: string; token: () => Promise<string>; reason: RegExp }[] = [
    { name: "a bad signature (another key under the issuer's key id)", token: () => authorizationServer.sign({}, { key: "foreign" }), reason: /signature/ },
    { name: "a wrong issuer", token: () => authorizationServer.sign({}, { issuer: "http://127.0.0.1:9/other" }), reason: /issuer/ },
    { name: "a wrong audience (a token for another resource)", token: () => authorizationServer.sign({}, { audience: "https://other.example/mcp" }), reason: /audience/ },
    { name: "an expired token (beyond the 30 s skew)", token: () => authorizationServer.sign({}, { expiresIn: Math.floor(Date.now() / 1000) - 120 }), reason: /expired/ },
    { name: "a token that is not yet valid", token: () => authorizationServer.sign({ nbf: Math.floor(Date.now() / 1000) + 600 }), reason: /not valid yet/ },
    { name: "an unsigned token (alg none)", token: async () => `${Buffer.from('{"alg":"none"}').toString("base64url")}.${Buffer.from(JSON.stringify({ iss: authorizationServer.issuer, aud: publicUrl, sub: "alice", exp: Math.floor(Date.now() / 1000) + 60, scope: "bpftrace:admin" })).toString("base64url")}.`, reason: /not valid/ },
  ];
  for (const negative of negatives) {
    it(`answers 401 invalid_token to ${negative.name}`, async () => {
      const token = await negative.token();
      const response = await postRaw(server.url, INITIALIZE, bearer(token));
      expect(response.status).toBe(401);
      const challenge = response.headers.get("www-authenticate") ?? "";
      expect(challenge).toMatch(/^Bearer error="invalid_token"/);
      expect(challenge).toMatch(negative.reason);
      expect(challenge).toContain("resource_metadata=");
      expect(await response.text()).not.toContain(token);
    });
  }

  it("accepts a token within the clock skew, and a static token beside OAuth", async () => {
    const justExpired = await authorizationServer.sign({}, { expiresIn: Math.floor(Date.now() / 1000) - 5 });
    const skewed = await postRaw(server.url, toolCall("list_examples"), bearer(justExpired));
    expect(skewed.status, skewed.headers.get("www-authenticate") ?? "").toBe(200);
    expect((await postRaw(server.url, toolCall("list_examples"), bearer(server.tokens.static ?? ""))).status).toBe(200);
  });
});
