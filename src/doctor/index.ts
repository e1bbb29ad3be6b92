import { homedir, userInfo } from "node:os";
import { fileURLToPath } from "node:url";
import { SAFE_PATH } from "../bpftrace/command.js";
import { BpftraceHost, resolveExecutable } from "../bpftrace/host.js";
import { parseArgs } from "../cli.js";
import type { Config } from "../config.js";
import { createLogger, type Logger } from "../logger.js";
import { PACKAGE } from "../version.js";
import { checkBpftrace, type DoctorHost } from "./checks-bpftrace.js";
import { checkClients, findClientEntries } from "./checks-clients.js";
import { checkInstall } from "./checks-install.js";
import { checkKernel, KernelFiles } from "./checks-kernel.js";
import { checkAuditLog, checkEnvFile, checkWatchdog } from "./checks-settings.js";
import { canTraceFrom, renderReport, type DoctorReport } from "./report.js";

export type { DoctorCheck, DoctorReport } from "./report.js";

export interface DoctorOptions {
  /** Home directory whose MCP client configs are read (default: $HOME). */
  home?: string;
  /** Working directory for project-scoped client configs and ./.env (default: process.cwd()). */
  cwd?: string;
  geteuid?: () => number;
  logger?: Logger;
  /** Where kernel files are read from (default "/"; a fixture tree in tests). */
  rootDir?: string;
  /** Environment for XDG_CONFIG_HOME and PATH (default: process.env). */
  env?: NodeJS.ProcessEnv;
  /** The settings file named on the command line (`--env PATH`), if any. */
  envFile?: string;
  /** Replaces the bpftrace host (tests). */
  host?: DoctorHost;
  /** Where this server is installed (default: two levels above this module). */
  packageRoot?: string;
}

// The package's root: two levels above this module (src/doctor/ or dist/doctor/).
const PACKAGE_ROOT = fileURLToPath(new URL("../../", import.meta.url));

/** Runs every check and decides whether the server can trace on this machine. */
export async function collectDoctorReport(config: Config, options: DoctorOptions = {}): Promise<DoctorReport> {
  const env = options.env ?? process.env;
  const home = options.home ?? (env.HOME || homedir());
  const cwd = options.cwd ?? process.cwd();
  const logger = options.logger ?? createLogger("silent");
  const host = options.host ?? new BpftraceHost(config, logger, { geteuid: options.geteuid, searchPath: env.PATH });
  const bpftraceChecks = await checkBpftrace({
    host,
    bpftracePath: config.bpftracePath,
    passwordSet: config.sudoPassword.length > 0,
    resolveBpftrace: () => resolveExecutable(config.bpftracePath, env.PATH),
  });
  const checks = [
    ...bpftraceChecks,
    ...checkKernel(new KernelFiles(options.rootDir ?? "/"), config.ownCgroup),
    checkInstall(options.packageRoot ?? PACKAGE_ROOT),
    checkClients(findClientEntries({ home, cwd, xdgConfigHome: env.XDG_CONFIG_HOME })),
    checkAuditLog(config.auditLogPath),
    checkWatchdog(resolveExecutable("timeout", SAFE_PATH)),
    checkEnvFile({ explicit: options.envFile, env: { ...env, HOME: home }, cwd }),
  ];
  return { canTrace: canTraceFrom(checks), checks };
}

/** The settings file named on the command line; index.ts has already validated argv. */
function envFileFromArgv(argv: readonly string[]): string | undefined {
  try {
    return parseArgs(argv).envFile;
  } catch {
    return undefined;
  }
}

function currentUser(): string {
  try {
    return userInfo().username;
  } catch {
    return `uid ${String(process.getuid?.() ?? "?")}`;
  }
}

/**
 * `bpftrace-mcp-server doctor`: prints the report (JSON with --json) and returns the exit code,
 * 0 only when the server can trace. Logs stay quiet unless LOG_LEVEL asks for debug.
 */
export async function runDoctor(config: Config, io: { json: boolean; write: (text: string) => void; envFile?: string }): Promise<number> {
  const logger = createLogger(config.logLevel === "debug" || config.logLevel === "trace" ? config.logLevel : "silent");
  const report = await collectDoctorReport(config, { logger, envFile: io.envFile ?? envFileFromArgv(process.argv.slice(2)) });
  if (io.json) io.write(`${JSON.stringify(report, null, 2)}\n`);
  else io.write(renderReport(report, `${PACKAGE.name} ${PACKAGE.version} doctor, as user ${currentUser()}`));
  return report.canTrace ? 0 : 1;
}
