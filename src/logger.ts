import { pino, type DestinationStream, type Logger } from "pino";

export type { Logger } from "pino";

// Keys that could hold a secret, wherever they appear in a log object.
const REDACTED_PATHS = [
  "password",
  "passwd",
  "*.password",
  "*.passwd",
  "env.BPFTRACE_PASSWD",
  "config.sudoPassword",
  "sudoPassword",
  "*.sudoPassword",
  // HTTP bearer tokens: no code logs them, and a header or auth object that slips into a log line is cut.
  "authorization",
  "*.authorization",
  "*.*.authorization",
  "token",
  "*.token",
  "*.*.token",
  "access_token",
  "*.access_token",
];

/** JSON logs on stderr (fd 2): stdout is the MCP protocol channel and must carry nothing else. */
export function createLogger(level: string, destination: DestinationStream = pino.destination({ dest: 2, sync: true })): Logger {
  return pino(
    {
      name: "bpftrace-mcp-server",
      level,
      redact: { paths: REDACTED_PATHS, censor: "[redacted]" },
      base: { pid: process.pid },
    },
    destination,
  );
}
