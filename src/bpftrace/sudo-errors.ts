import { BpftraceMcpError } from "../errors.js";
import type { PrivilegeMode } from "./command.js";

/**
 * Recognises sudo's own refusals in a failed command's stderr, so the user is told what to fix
 * instead of seeing a generic bpftrace failure. Returns null when sudo was not the problem.
 */
export function classifySudoFailure(stderr: string, mode: PrivilegeMode, user: string): BpftraceMcpError | null {
  if (/incorrect password|Sorry, try again|no password was provided|Authentication failure/i.test(stderr)) {
    return new BpftraceMcpError("SUDO_REJECTED", `sudo rejected BPFTRACE_PASSWD for user ${user}.`, {
      hint: "Correct BPFTRACE_PASSWD in the .env file and restart the server (it is not retried, so the account is not locked).",
    });
  }
  if (/a password is required|a terminal is required|askpass/i.test(stderr)) {
    return new BpftraceMcpError("SUDO_PASSWORD_REQUIRED", `sudo needs a password for user ${user} and BPFTRACE_PASSWD is not set.`, {
      hint: "Set BPFTRACE_PASSWD in a 0600 .env file, or add a NOPASSWD sudoers rule for the bpftrace binary (see SECURITY.md).",
    });
  }
  if (/not allowed to execute|is not in the sudoers file|may not run sudo|not allowed to run sudo/i.test(stderr)) {
    return new BpftraceMcpError("NOT_PERMITTED", `sudo does not allow user ${user} to run bpftrace.`, {
      hint: "Add a sudoers rule for the bpftrace binary, e.g. `" + user + " ALL=(root) NOPASSWD: /usr/bin/bpftrace` (see SECURITY.md).",
    });
  }
  if (mode === "sudo-password" && /^sudo: /m.test(stderr) && /password/i.test(stderr)) {
    return new BpftraceMcpError("SUDO_REJECTED", `sudo rejected BPFTRACE_PASSWD for user ${user}.`, {
      hint: "Correct BPFTRACE_PASSWD in the .env file and restart the server.",
    });
  }
  return null;
}
