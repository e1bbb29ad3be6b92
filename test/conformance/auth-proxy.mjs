// A loopback proxy for the MCP conformance suite, whose client sends no Authorization header: it
// adds `Authorization: Bearer <token from the file>` to every request and passes everything else,
// Host and Origin included, through unchanged (so the server's rebinding checks see what the
// suite sent). Usage: node auth-proxy.mjs LISTEN_PORT TARGET_PORT TOKEN_FILE (prints "ready PORT").
import { readFileSync } from "node:fs";
import { request, createServer } from "node:http";

const [listenPort = "0", targetPort, tokenFile] = process.argv.slice(2);
if (!targetPort || !tokenFile) {
  process.stderr.write("usage: auth-proxy.mjs LISTEN_PORT TARGET_PORT TOKEN_FILE\n");
  process.exit(2);
}
const token = readFileSync(tokenFile, "utf8").trim();

const proxy = createServer((incoming, outgoing) => {
  const headers = { ...incoming.headers, authorization: `Bearer ${token}` };
  const forwarded = request({ host: "127.0.0.1", port: Number(targetPort), method: incoming.method, path: incoming.url, headers }, (answer) => {
    outgoing.writeHead(answer.statusCode ?? 502, answer.headers);
    answer.pipe(outgoing);
  });
  forwarded.on("error", () => {
    if (!outgoing.headersSent) outgoing.writeHead(502);
    outgoing.end();
  });
  outgoing.on("close", () => forwarded.destroy());
  incoming.pipe(forwarded);
});
proxy.listen(Number(listenPort), "127.0.0.1", () => {
  process.stdout.write(`ready ${proxy.address().port}\n`);
});
process.on("SIGTERM", () => process.exit(0));
