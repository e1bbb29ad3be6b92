import { describe, expect, it } from "vitest";
import { listsTracepointsLikeThis, matchAvailableEvents, tracepointSearch } from "../../src/bpftrace/tracefs-events.js";

const EVENTS = [
  "sched:sched_kthread_stop",
  "sched:sched_kthread_stop_ret",
  "sched:sched_kthread_work_execute_start",
  "sched:sched_process_exit",
  "sched:sched_process_wait",
  "syscalls:sys_exit_openat",
  "syscalls:sys_enter_openat",
  "syscalls:sys_enter_open",
  "syscalls:sys_enter_openat", // listed twice: printed once
  "alarmtimer:alarmtimer_fired",
  "xhci-hcd:xhci_urb_enqueue",
  "sample:do_thing.part.0", // bpftrace skips ".part." lines
  "weird:has: colon space", // not read back as a probe
  "",
].join("\n");

describe("tracepointSearch", () => {
  it.each([
    ["tracepoint:syscalls:*open*", "syscalls:*open*"],
    ["tracepoint:sched:sched_switch", "sched:sched_switch"],
    ["tracepoint:*:*", "*:*"],
    ["tracepoint:**:*", "**:*"],
    ["tracepoint:S1_x:*", "S1_x:*"],
  ])("reads %s as the search %s", (filter, search) => {
    expect(tracepointSearch(filter)).toBe(search);
  });

  it.each(["tracepoint:*", "tracepoint:sched:", "tracepoint::x", "t:sched:*", "tracepoint:sys?alls:*", "tracepoint:syscalls:{a,b}", "tracepoint:syscalls:sys_enter_[o]pen", "tracepoint:a:b:c", "kprobe:vfs_*", "tracepoint:xhci-hcd:*", "open"])(
    "leaves %s to bpftrace",
    (filter) => {
      expect(tracepointSearch(filter)).toBeNull();
    },
  );
});

describe("matchAvailableEvents", () => {
  it("lists matches once each, in byte order, with the provider in front", () => {
    expect(matchAvailableEvents(EVENTS, "syscalls:*open*")).toEqual([
      "tracepoint:syscalls:sys_enter_open",
      "tracepoint:syscalls:sys_enter_openat",
      "tracepoint:syscalls:sys_exit_openat",
    ]);
  });

  it("matches the way bpftrace's wildcard_match does: each piece at its first occurrence", () => {
    // A glob would also take sched_kthread_stop_ret and sched_kthread_work_execute_start (both end
    // in "t"); bpftrace looks for the last "t" only at its first occurrence after "_", and so does this.
    expect(matchAvailableEvents(EVENTS, "sched:*_*t")).toEqual(["tracepoint:sched:sched_process_exit", "tracepoint:sched:sched_process_wait"]);
    expect(matchAvailableEvents(EVENTS, "sched:sched_kthread_stop*")).toEqual(["tracepoint:sched:sched_kthread_stop", "tracepoint:sched:sched_kthread_stop_ret"]);
    expect(matchAvailableEvents(EVENTS, "*kthread*stop")).toEqual(["tracepoint:sched:sched_kthread_stop"]);
  });

  it("answers exact names, misses, everything, and skips .part. lines and lines that are no probe", () => {
    expect(matchAvailableEvents(EVENTS, "syscalls:sys_enter_open")).toEqual(["tracepoint:syscalls:sys_enter_open"]);
    expect(matchAvailableEvents(EVENTS, "nosuch:thing")).toEqual([]);
    expect(matchAvailableEvents(EVENTS, "sample:*")).toEqual([]);
    expect(matchAvailableEvents(EVENTS, "weird:*")).toEqual([]);
    expect(matchAvailableEvents(EVENTS, "*:*")).toEqual([
      "tracepoint:alarmtimer:alarmtimer_fired",
      "tracepoint:sched:sched_kthread_stop",
      "tracepoint:sched:sched_kthread_stop_ret",
      "tracepoint:sched:sched_kthread_work_execute_start",
      "tracepoint:sched:sched_process_exit",
      "tracepoint:sched:sched_process_wait",
      "tracepoint:syscalls:sys_enter_open",
      "tracepoint:syscalls:sys_enter_openat",
      "tracepoint:syscalls:sys_exit_openat",
      "tracepoint:xhci-hcd:xhci_urb_enqueue",
    ]);
    expect(matchAvailableEvents("", "*:*")).toEqual([]);
  });
});

describe("listsTracepointsLikeThis", () => {
  it("holds for the releases checked against the real binary only", () => {
    expect(listsTracepointsLikeThis({ major: 0, minor: 17, patch: 0, text: "0.17.0" })).toBe(true);
    expect(listsTracepointsLikeThis({ major: 0, minor: 17, patch: 1, text: "0.17.1" })).toBe(true);
    expect(listsTracepointsLikeThis({ major: 0, minor: 20, patch: 2, text: "0.20.2" })).toBe(false);
    expect(listsTracepointsLikeThis(null)).toBe(false);
  });
});
