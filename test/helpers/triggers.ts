// The events an example's `trigger` header names, caused on demand while a trace runs, so a test
// can check the program's output against the example's `marker`.
import { execFile, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { closeSync, openSync, rmSync, writeFileSync, writeSync } from "node:fs";
import { createServer, connect, type AddressInfo, type Server, type Socket } from "node:net";
import type { ExampleTrigger } from "../../src/examples/catalog.js";

/** The word every marker file name carries; the file examples' markers look for it. */
export const MARKER_PREFIX = "bpftrace-mcp-marker";

const CHILD_TIMEOUT_MS = 5_000;
// write-bytes-by-file prints only the top 40 files by bytes and by calls: write enough to rank.
const WRITE_CALLS_PER_FIRE = 64;
const WRITE_CHUNK = Buffer.alloc(4096, "m");

/** A trigger ready to fire: it owns whatever it set up (marker files, a listening socket). */
export interface TriggerSession {
  readonly kind: ExampleTrigger;
  /** Causes the event once and resolves after it happened (the child exited, the connection was accepted). */
  fire: () => Promise<void>;
  /** How many times `fire` completed. */
  readonly fired: number;
  /** Releases what the session holds; safe to call twice. */
  close: () => Promise<void>;
}

/** A fresh `/tmp/bpftrace-mcp-marker-<random>` path (not created). */
export function markerPath(): string {
  return `/tmp/${MARKER_PREFIX}-${randomBytes(6).toString("hex")}`;
}

/** Where the traced bpftrace lives; triggers aimed at its uprobes must run with its root. */
export interface TriggerOptions {
  /** The directory bpftrace sees as "/" (realBpftrace().root); "/" when omitted. */
  root?: string;
}

/** Sets up the trigger named by an example header (`none` gives a session whose fire does nothing). */
export async function openTrigger(kind: ExampleTrigger, options: TriggerOptions = {}): Promise<TriggerSession> {
  const parts = await triggerParts(kind, options.root ?? "/");
  let fired = 0;
  let closed = false;
  return {
    kind,
    get fired() {
      return fired;
    },
    fire: async () => {
      if (closed) throw new Error(`trigger ${kind} fired after close`);
      await parts.fire();
      fired += 1;
    },
    close: async () => {
      if (closed) return;
      closed = true;
      await parts.close();
    },
  };
}

interface TriggerParts {
  fire: () => Promise<void>;
  close: () => Promise<void>;
}

async function triggerParts(kind: ExampleTrigger, root: string): Promise<TriggerParts> {
  const nothing = async (): Promise<void> => undefined;
  switch (kind) {
    case "open-file": {
      const path = markerPath();
      writeFileSync(path, "marker\n");
      return { fire: async () => closeSync(openSync(path, "r")), close: async () => rmSync(path, { force: true }) };
    }
    case "exec":
      return {
        fire: async () => {
          await runChild("/bin/true", []);
          await runChild("/bin/echo", ["marker"]);
        },
        close: nothing,
      };
    case "tcp-connect":
      return openLoopbackListener();
    case "signal":
      return { fire: signalChild, close: nothing };
    case "unlink":
      return {
        fire: async () => {
          const path = markerPath();
          writeFileSync(path, "marker\n");
          rmSync(path);
        },
        close: nothing,
      };
    case "sleep":
      return { fire: () => runChild("sleep", ["0.2"]), close: nothing };
    case "dns":
      // A uprobe on libc: resolve with the libc bpftrace probes, the one in its root.
      return { fire: () => runChild("getent", ["hosts", "localhost"], root), close: nothing };
    case "write": {
      const path = markerPath();
      const fd = openSync(path, "w");
      return {
        // No position argument: libuv then calls write(2), which the example traces (pwritev2 it does not).
        fire: async () => {
          for (let call = 0; call < WRITE_CALLS_PER_FIRE; call += 1) writeSync(fd, WRITE_CHUNK);
        },
        close: async () => {
          closeSync(fd);
          rmSync(path, { force: true });
        },
      };
    }
    case "none":
      return { fire: nothing, close: nothing };
  }
}

/**
 * Runs a program to completion (argv, no shell), inside `root` when it is not "/" (chroot, so the
 * program and the libraries it loads are that root's files); rejects on a non-zero exit or a timeout.
 */
function runChild(file: string, args: string[], root = "/"): Promise<void> {
  const [command, argv] = root === "/" ? [file, args] : ["chroot", [root, file, ...args]];
  return new Promise((resolve, reject) => {
    execFile(command, argv, { timeout: CHILD_TIMEOUT_MS }, (error) => (error ? reject(new Error(`${command} ${argv.join(" ")} failed: ${error.message}`, { cause: error })) : resolve()));
  });
}

/** Starts `sleep 30`, sends it SIGUSR2 with kill(2), and waits until it died of it. */
function signalChild(): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn("sleep", ["30"], { stdio: "ignore" });
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error("the signal trigger's child did not die of SIGUSR2"));
    }, CHILD_TIMEOUT_MS);
    child.once("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    // 'spawn' fires once exec succeeded, so the signal reaches sleep itself, not a half-started child.
    child.once("spawn", () => child.kill("SIGUSR2"));
    child.once("exit", (_code, signal) => {
      clearTimeout(timer);
      if (signal === "SIGUSR2") resolve();
      else reject(new Error(`the signal trigger's child ended with ${String(signal)} instead of SIGUSR2`));
    });
  });
}

/** A TCP listener on 127.0.0.1; each fire connects to it and waits until the connection was accepted. */
async function openLoopbackListener(): Promise<TriggerParts> {
  const accepted: Socket[] = [];
  const waiters: (() => void)[] = [];
  const listener: Server = createServer((socket) => {
    socket.on("error", () => undefined);
    accepted.push(socket);
    socket.end();
    for (const wake of waiters.splice(0)) wake();
  });
  await new Promise<void>((resolve, reject) => {
    listener.once("error", reject);
    listener.listen(0, "127.0.0.1", () => resolve());
  });
  const { port } = listener.address() as AddressInfo;
  const fire = async (): Promise<void> => {
    const acceptedBefore = accepted.length;
    const client = connect({ host: "127.0.0.1", port });
    client.on("error", () => undefined);
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no connection to 127.0.0.1:${port} within ${CHILD_TIMEOUT_MS} ms`)), CHILD_TIMEOUT_MS);
        const check = (): void => {
          if (accepted.length > acceptedBefore) {
            clearTimeout(timer);
            resolve();
          } else {
            waiters.push(check);
          }
        };
        client.once("connect", check);
        client.once("error", (error) => {
          clearTimeout(timer);
          reject(error);
        });
      });
    } finally {
      client.destroy();
    }
  };
  const close = async (): Promise<void> => {
    for (const socket of accepted) socket.destroy();
    await new Promise<void>((resolve) => listener.close(() => resolve()));
  };
  return { fire, close };
}
