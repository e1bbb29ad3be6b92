import { accessSync, constants, existsSync, readFileSync, statSync } from "node:fs";
import { dirname } from "node:path";
import { envFileCandidates } from "../env-file.js";
import { check, type DoctorCheck } from "./report.js";

function isWritable(path: string): boolean {
  try {
    accessSync(path, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/** The nearest directory at or above `path` that exists. */
function nearestExisting(path: string): string {
  let current = path;
  while (!existsSync(current) && dirname(current) !== current) current = dirname(current);
  return current;
}

/** Whether the server could append to its audit log, without creating anything. */
export function checkAuditLog(auditLogPath: string | null): DoctorCheck {
  if (auditLogPath === null) {
    return check("audit-log", "audit log", "info", "off (BPFTRACE_MCP_AUDIT_LOG=off): runs are not recorded");
  }
  const fix = `Make ${auditLogPath} (or its directory) writable by the user the server runs as, or set BPFTRACE_MCP_AUDIT_LOG to a writable path.`;
  if (existsSync(auditLogPath)) {
    if (!statSync(auditLogPath).isFile()) return check("audit-log", "audit log", "warn", `${auditLogPath} exists but is not a file`, fix);
    if (!isWritable(auditLogPath)) return check("audit-log", "audit log", "warn", `${auditLogPath} is not writable: runs would go unrecorded`, fix);
    return check("audit-log", "audit log", "ok", `${auditLogPath} (writable)`);
  }
  const ancestor = nearestExisting(dirname(auditLogPath));
  if (!statSync(ancestor).isDirectory() || !isWritable(ancestor)) {
    return check("audit-log", "audit log", "warn", `${auditLogPath} cannot be created: ${ancestor} is not a writable directory`, fix);
  }
  return check("audit-log", "audit log", "ok", `${auditLogPath} (will be created on the first run)`);
}

const PASSWORD_LINE = /^\s*(?:export\s+)?BPFTRACE_PASSWD\s*=/m;

export interface EnvFileCheckOptions {
  /** The settings file named on the command line, if any. */
  explicit: string | undefined;
  env: NodeJS.ProcessEnv;
  cwd: string;
}

/** Which .env file the settings came from (the same search the CLI does), and whether it leaks the password. */
export function checkEnvFile(options: EnvFileCheckOptions): DoctorCheck {
  const candidates = envFileCandidates(options.explicit, options.env, options.cwd);
  const used = candidates.find((path) => existsSync(path));
  if (used === undefined) {
    return check("env-file", ".env file", "info", `none found (looked at ${candidates.join(", ")}): settings come from the environment only`);
  }
  let text: string;
  try {
    text = readFileSync(used, "utf8");
  } catch (error) {
    return check("env-file", ".env file", "warn", `${used} could not be read: ${(error as NodeJS.ErrnoException).code ?? String(error)}`, `Make ${used} readable by the user the server runs as.`);
  }
  const holdsPassword = PASSWORD_LINE.test(text);
  if (holdsPassword && (statSync(used).mode & 0o077) !== 0) {
    return check("env-file", ".env file", "warn", `${used} holds BPFTRACE_PASSWD and is readable by other users`, `chmod 600 ${used}`);
  }
  return check("env-file", ".env file", "info", `${used}${holdsPassword ? " (holds BPFTRACE_PASSWD; readable by its owner only)" : ""}`);
}

/** The watchdog (coreutils timeout) that ends a trace at its deadline even when the server is killed. */
export function checkWatchdog(timeoutFile: string | null): DoctorCheck {
  if (timeoutFile !== null) return check("watchdog", "trace watchdog", "ok", `${timeoutFile}: every trace ends at its deadline, even if the server is killed`);
  return check(
    "watchdog",
    "trace watchdog",
    "warn",
    "timeout(1) not found: a trace whose server is killed then ends only by the deadline guard inside its program",
    "Install coreutils (it provides timeout).",
  );
}
