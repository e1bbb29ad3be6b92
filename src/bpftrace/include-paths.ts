// Where an `#include <name.h>` in a program is found, so the gateway can check that the server's
// own user could read that file: bpftrace runs as root, and clang quotes a header it cannot parse.

import { accessSync, constants } from "node:fs";
import { join } from "node:path";

const MULTIARCH: Partial<Record<string, string>> = { x64: "x86_64-linux-gnu", arm64: "aarch64-linux-gnu" };
const KERNEL_ARCH: Partial<Record<string, string>> = { x64: "x86", arm64: "arm64" };

/** The directories bpftrace's clang searches for `<name.h>`, in order (system, then the kernel's headers). */
export function includeDirectories(kernelRelease: string, arch: string = process.arch): string[] {
  const directories = ["/usr/local/include", "/usr/include"];
  const triplet = MULTIARCH[arch];
  if (triplet) directories.push(`/usr/include/${triplet}`);
  const kernelArch = KERNEL_ARCH[arch];
  for (const tree of ["source", "build"]) {
    const base = `/lib/modules/${kernelRelease}/${tree}`;
    directories.push(`${base}/include`, `${base}/include/uapi`, `${base}/include/generated/uapi`);
    if (kernelArch) directories.push(`${base}/arch/${kernelArch}/include`, `${base}/arch/${kernelArch}/include/uapi`, `${base}/arch/${kernelArch}/include/generated`);
  }
  return directories;
}

/**
 * False when the header would be read from a file this process's (real) user could not read, or
 * whose directory it cannot search (it cannot tell whether the file is there). True when it is
 * readable, or found nowhere (bpftrace then fails to compile it).
 */
export function isHeaderReadable(header: string, directories: readonly string[]): boolean {
  for (const directory of directories) {
    const file = join(directory, header);
    try {
      accessSync(file, constants.F_OK);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT" || (error as NodeJS.ErrnoException).code === "ENOTDIR") continue;
      return false;
    }
    try {
      accessSync(file, constants.R_OK);
      return true;
    } catch {
      return false;
    }
  }
  return true;
}
