// Figure 6: spawn → initialize result, our server against @modelcontextprotocol/server-everything.
import { REFERENCE_SERVER, startServer } from "./mcp-server.mjs";
import { alternate, pairedRatios, summarize } from "./stats.mjs";

/** Alternates the reference server and ours `runs` times (plus one unmeasured start of each). */
export async function measureColdStart({ runs, log }) {
  log(`cold start: ${runs} × (server-everything, ours): spawn → initialize result`);
  const startOnce = async (options) => {
    const server = await startServer(options);
    await server.close();
    return server.initializeMs;
  };
  // Unmeasured: fills the page cache for both, so neither pays for the first read from disk.
  await startOnce(REFERENCE_SERVER);
  await startOnce({});
  const { baseline, subject } = await alternate(
    runs,
    () => startOnce(REFERENCE_SERVER),
    () => startOnce({}),
  );
  return {
    reference: "@modelcontextprotocol/server-everything (stdio)",
    baselineMs: summarize(baseline),
    subjectMs: summarize(subject),
    ratio: summarize(pairedRatios(subject, baseline)),
    samples: { baseline, subject },
  };
}
