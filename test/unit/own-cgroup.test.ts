import { existsSync, mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { cgroup2Mount, cgroup2Path, enterOwnCgroup } from "../../src/bpftrace/own-cgroup.js";

const HYBRID_MOUNTINFO = [
  "25 30 0:23 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw",
  "35 25 0:30 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755",
  "36 35 0:31 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:10 - cgroup2 cgroup2 rw,nsdelegate",
  "37 35 0:32 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:11 - cgroup cgroup rw,xattr,name=systemd",
].join("\n");

/** A fake /proc/self and cgroup v2 tree: directories stand in for cgroups. */
function fakeMachine(currentCgroup: string): { procSelf: string; mount: string } {
  const root = mkdtempSync(join(tmpdir(), "own-cgroup-"));
  const mount = join(root, "cgroup2");
  mkdirSync(join(mount, currentCgroup), { recursive: true });
  const procSelf = join(root, "proc-self");
  mkdirSync(procSelf);
  writeFileSync(join(procSelf, "mountinfo"), `30 25 0:26 / ${mount} rw,nosuid - cgroup2 cgroup2 rw\n`);
  writeFileSync(join(procSelf, "cgroup"), `4:memory:/x\n0::${currentCgroup}\n`);
  return { procSelf, mount };
}

describe("the server's own cgroup", () => {
  it("finds the cgroup v2 mount on a hybrid system and the process's v2 path", () => {
    expect(cgroup2Mount(HYBRID_MOUNTINFO)).toBe("/sys/fs/cgroup/unified");
    expect(cgroup2Mount("35 25 0:30 / /sys/fs/cgroup rw - cgroup cgroup rw,memory\n")).toBeNull();
    expect(cgroup2Path("9:name=systemd:/\n0::/user.slice/session-3.scope\n")).toBe("/user.slice/session-3.scope");
    expect(cgroup2Path("9:name=systemd:/\n")).toBeNull();
  });

  it("makes a leaf under the current cgroup, moves the process in, and reports the leaf's inode as its id", () => {
    const { procSelf, mount } = fakeMachine("/system.slice/mcp.service");
    const { cgroup, reason } = enterOwnCgroup({ pid: 4242, procSelf, isAlive: () => true });
    expect(reason).toBeNull();
    const leaf = join(mount, "system.slice/mcp.service/bpftrace-mcp-server-4242");
    expect(cgroup?.path).toBe(leaf);
    expect(readFileSync(join(leaf, "cgroup.procs"), "utf8")).toBe("4242");
    expect(cgroup?.id).toBe(statSync(leaf, { bigint: true }).ino);
    cgroup?.release();
    expect(readFileSync(join(mount, "system.slice/mcp.service/cgroup.procs"), "utf8")).toBe("4242");
  });

  it("removes empty leaves of servers that are gone, and keeps those of live ones", () => {
    const { procSelf, mount } = fakeMachine("/");
    mkdirSync(join(mount, "bpftrace-mcp-server-111"));
    mkdirSync(join(mount, "bpftrace-mcp-server-222"));
    mkdirSync(join(mount, "unrelated-333"));
    enterOwnCgroup({ pid: 999, procSelf, isAlive: (pid) => pid === 222 });
    expect(existsSync(join(mount, "bpftrace-mcp-server-111"))).toBe(false);
    expect(existsSync(join(mount, "bpftrace-mcp-server-222"))).toBe(true);
    expect(existsSync(join(mount, "unrelated-333"))).toBe(true);
  });

  it("says why when there is no cgroup v2 hierarchy or the process may not write it", () => {
    const { procSelf } = fakeMachine("/");
    writeFileSync(join(procSelf, "mountinfo"), HYBRID_MOUNTINFO.split("\n").slice(0, 2).join("\n"));
    expect(enterOwnCgroup({ pid: 1, procSelf })).toEqual({ cgroup: null, reason: "no cgroup v2 hierarchy is mounted" });
    const missing = fakeMachine("/");
    writeFileSync(join(missing.procSelf, "cgroup"), "0::/does/not/exist\n");
    expect(enterOwnCgroup({ pid: 1, procSelf: missing.procSelf }).reason).toMatch(/^cannot create .*does\/not\/exist\/bpftrace-mcp-server-1/);
  });
});
