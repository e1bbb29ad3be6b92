import { describe, expect, it } from "vitest";

import { checkProgram, formatRefusal, type AllowFlag, type PolicyOptions } from "../../src/policy/index.js";

// Every uprobe target is readable here except the planted root-only file.
const DEFAULTS: PolicyOptions = { allow: new Set<AllowFlag>(), maxBytes: 64 * 1024, maxLines: 2000, canRead: (path) => !path.startsWith("/root/") };

function check(program: string, allow: AllowFlag[] = []) {
  return checkProgram(program, { ...DEFAULTS, allow: new Set(allow) });
}

/** A realistic tool in the style of bpftrace's tools/ directory, written for these tests. */
const OPEN_LATENCY_TOOL = `#!/usr/bin/env bpftrace
/*
 * openlat - summarise openat() latency per process and report slow opens.
 * Strings and comments may mention cat("/etc/passwd") or system("reboot") freely.
 */
#include <linux/sched.h>
#define SLOW_NS 10000000
#define COMM_WIDTH 16

BEGIN
{
	printf("Tracing openat latency... Hit Ctrl-C to end.\\n");
	printf("%-8s %-16s %s\\n", "PID", "COMM", "SLOW OPEN (cat, signal and system are just words here)");
}

tracepoint:syscalls:sys_enter_openat
/pid != 0/
{
	@start[tid] = nsecs;
	@fname[tid] = args->filename;
}

tracepoint:syscalls:sys_exit_openat
/@start[tid]/
{
	$duration = nsecs - @start[tid];
	@latency_us[comm] = hist($duration / 1000);
	if ($duration > SLOW_NS) {
		printf("%-8d %-16s %s\\n", pid, comm, str(@fname[tid]));
	}
	delete(@start[tid]);
	delete(@fname[tid]);
}

interval:s:10 { print(@latency_us); clear(@latency_us); }

END
{
	clear(@start);
	clear(@fname);
}
`;

type Row = { name: string; program: string; expected: "allow" | string };

const ROWS: Row[] = [
  // Banned builtins and the ways of writing a call to one.
  { name: "a cat() call", program: 'BEGIN { cat("/etc/shadow"); }', expected: "builtin" },
  { name: "cat with a comment between name and paren", program: 'BEGIN { cat/**/("/etc/passwd"); }', expected: "builtin" },
  { name: "cat with odd spacing", program: 'BEGIN { cat ( "/etc/passwd" ) ; }', expected: "builtin" },
  { name: "cat with the paren on the next line", program: 'BEGIN { cat\n("/etc/passwd"); }', expected: "builtin" },
  { name: "cat with a // comment before the paren", program: 'BEGIN { cat // harmless\n("/etc/passwd"); }\n', expected: "builtin" },
  { name: "cat inside a predicate", program: 'kprobe:vfs_read /cat("/etc/shadow")/ { @ = count(); }', expected: "builtin" },
  { name: "cat bare in an expression", program: "BEGIN { $x = cat; }", expected: "builtin" },
  { name: "a system() call", program: 'BEGIN { system("id"); }', expected: "builtin" },
  { name: "a signal() call", program: 'kprobe:do_nanosleep { signal("SIGKILL"); }', expected: "builtin" },
  { name: "signal used bare as a statement", program: "kprobe:do_nanosleep { signal; }", expected: "builtin" },
  { name: "a signal_thread() call", program: "kprobe:do_nanosleep { signal_thread(9); }", expected: "builtin" },
  { name: "an override() call", program: "kprobe:__x64_sys_getuid { override(0); }", expected: "builtin" },
  { name: "an skboutput() file write", program: 'fentry:napi_gro_receive { skboutput("/tmp/x.pcap", args->skb, 64, 0); }', expected: "builtin" },
  { name: "a debugf() call", program: 'BEGIN { debugf("x %d", 1); }', expected: "builtin" },
  { name: "an unwatch() call", program: "BEGIN { unwatch(0x1000); }", expected: "builtin" },
  { name: "cat in a nested block", program: 'kprobe:f { if (pid > 1) { unroll(2) { if (1) { cat("/etc/shadow"); } } } }', expected: "builtin" },
  { name: "a builtin called like a method", program: 'BEGIN { $t = curtask; $t.cat("/etc/shadow"); }', expected: "builtin" },
  // Line continuations and lexical look-alikes.
  { name: "a backslash-newline splitting an identifier", program: 'BEGIN { ca\\\nt("/etc/passwd"); }', expected: "continuation" },
  { name: "a backslash-newline continuing a #define", program: '#define C \\\n  cat("/etc/shadow")\nBEGIN { C; }', expected: "continuation" },
  { name: "a Cyrillic look-alike letter in an identifier", program: 'BEGIN { \u0441at("/etc/passwd"); }', expected: "character" },
  { name: "a zero-width space between identifier letters", program: 'BEGIN { ca\u200Bt("/etc/passwd"); }', expected: "character" },
  { name: "a fullwidth parenthesis", program: 'BEGIN { printf\uFF08"x"); }', expected: "character" },
  { name: "a bidi override inside a comment", program: "BEGIN { /* \u202E } */ exit(); }", expected: "character" },
  { name: "a bidi isolate inside a string", program: 'BEGIN { printf("\u2066x\u2069"); }', expected: "character" },
  { name: "a NUL byte", program: "BEGIN { exit(); }\0", expected: "character" },
  { name: "a bare carriage return hiding code on display", program: '// note\rcat("/etc/shadow")\nBEGIN { exit(); }\n', expected: "character" },
  { name: "a character literal", program: "BEGIN { printf(\"%c\", 'a'); }", expected: "character" },
  { name: "a stray backslash", program: "BEGIN { $x = 1 \\ 2; }", expected: "character" },
  { name: "a trigraph", program: '??=include "/etc/shadow"\nBEGIN { exit(); }', expected: "preprocessor" },
  { name: "a trigraph inside a string", program: 'BEGIN { printf("??/"); }', expected: "preprocessor" },
  { name: "a %: digraph include", program: '%:include "/etc/shadow"\nBEGIN { exit(); }', expected: "preprocessor" },
  // Macros that build or hide a banned call.
  { name: "an object-like macro expanding to a cat() call", program: '#define C cat("/etc/shadow")\nBEGIN { C; }', expected: "define" },
  { name: "a macro aliasing cat", program: '#define c cat\nBEGIN { c("/etc/shadow"); }', expected: "define" },
  { name: "a function-like macro calling cat", program: '#define X(y) cat(y)\nBEGIN { X("/etc/shadow"); }', expected: "define" },
  { name: "token pasting that builds cat", program: '#define J(a,b) a##b\nBEGIN { J(c,at)("/etc/shadow"); }', expected: "define" },
  { name: "stringification in a macro", program: "#define S(x) #x\nBEGIN { printf(S(hi)); }", expected: "define" },
  { name: "a macro named after a banned builtin", program: "#define system printf\nBEGIN { exit(); }", expected: "define" },
  { name: "a macro with an unbalanced quote that re-pairs strings", program: '#define Q "\nBEGIN { Q " cat(1) "Q }', expected: "define" },
  { name: "a macro whose comment runs onto the next line", program: '#define Z 1 /*\n// */ cat("/etc/shadow")\nBEGIN { Z; }', expected: "define" },
  { name: "a macro that expands to a watchpoint probe", program: "#define WP watchpoint:0x1000:8:w\nWP { exit(); }", expected: "probe" },
  { name: "a macro that expands to a config block", program: "#define CFG config = { max_strlen = 100000 }\nCFG\nBEGIN { exit(); }", expected: "config" },
  { name: "a macro inside a probe specifier", program: "#define FN do_nanosleep\nkprobe:FN { exit(); }", expected: "define" },
  { name: "a macro as the probe provider", program: "#define PROV kprobe\nPROV:do_nanosleep { exit(); }", expected: "define" },
  // Includes and other directives.
  { name: "a quoted include", program: '#include "secrets.h"\nBEGIN { exit(); }', expected: "include" },
  { name: "an absolute include", program: "#include </etc/shadow>\nBEGIN { exit(); }", expected: "include" },
  { name: "an include with ..", program: "#include <linux/../../../etc/shadow.h>\nBEGIN { exit(); }", expected: "include" },
  { name: "a macro-expanded include", program: "#define H <linux/sched.h>\n#include H\nBEGIN { exit(); }", expected: "include" },
  { name: "an include that is not a .h header", program: "#include <shadow>\nBEGIN { exit(); }", expected: "include" },
  { name: "#include_next", program: "#include_next <linux/sched.h>\nBEGIN { exit(); }", expected: "preprocessor" },
  { name: "#import", program: "#import <linux/sched.h>\nBEGIN { exit(); }", expected: "preprocessor" },
  { name: "#pragma", program: "#pragma clang diagnostic ignored \"-Wall\"\nBEGIN { exit(); }", expected: "preprocessor" },
  { name: "#line", program: '#line 1 "innocent.bt"\nBEGIN { exit(); }', expected: "preprocessor" },
  { name: "#embed", program: '#embed "/etc/shadow"\nBEGIN { exit(); }', expected: "preprocessor" },
  { name: "__has_include probing a file", program: "#if __has_include(</etc/shadow>)\n#endif\nBEGIN { exit(); }", expected: "preprocessor" },
  { name: "an open comment gluing an #error line to the next", program: "#if 1 /*\n#error */ || __has_include(</etc/shadow>)\n#endif\nBEGIN { exit(); }", expected: "preprocessor" },
  { name: "_Pragma in code", program: 'BEGIN { _Pragma("x"); exit(); }', expected: "preprocessor" },
  { name: "a directive after code on the same line", program: 'BEGIN { exit(); } #define X 1\n', expected: "preprocessor" },
  { name: "an import statement", program: 'import "helpers.bt";\nBEGIN { exit(); }', expected: "import" },
  { name: "a config block raising limits", program: "config = { max_strlen = 4096; max_map_keys = 100000 }\nBEGIN { exit(); }", expected: "config" },
  { name: "a config block turning on unsafe", program: "config = {\n  unsafe = true\n}\nBEGIN { exit(); }", expected: "config" },
  // Structure, and places where bpftrace and clang disagree.
  { name: "an unterminated string", program: 'BEGIN { printf("oops); }', expected: "structure" },
  { name: "an unterminated comment", program: "BEGIN { exit(); } /* never closed", expected: "structure" },
  { name: "an unclosed action block", program: "BEGIN { if (1) { exit(); }", expected: "structure" },
  { name: "a comment inside a struct definition", program: 'struct X { int a; /* } BEGIN { cat("/etc/shadow") } // */ }\nBEGIN { exit(); }', expected: "syntax" },
  { name: "a comment inside a struct cast", program: "BEGIN { $t = (struct /* ) */ task_struct *)curtask; }", expected: "syntax" },
  { name: "a comment glued to a probe specifier", program: 'kprobe:vfs_read/* " */ { @ = count(); } /* " */\n', expected: "syntax" },
  { name: "a probe specifier followed by a paren", program: 'uprobe:/bin/bash:cat("/etc/shadow") { exit(); }', expected: "syntax" },
  { name: "a number glued to a call", program: 'BEGIN { $x = 1cat("/etc/shadow"); }', expected: "syntax" },
  // Probes that act on the system.
  { name: "a watchpoint probe", program: "watchpoint:0x10000000:8:w { exit(); }", expected: "probe" },
  // The gateway issue's attacks and the rules that answer them.
  { name: "a macro whose body bpftrace joins into cat (ca t)", program: '#define X ca t("/root/secret")\nBEGIN { X; exit(); }', expected: "define" },
  { name: "a macro whose body joins across a comment (ca/**/t)", program: '#define X ca/**/t("/root/secret")\nBEGIN { X; exit(); }', expected: "define" },
  { name: "a macro ending in / that turns the next /* into //", program: '#define C 1 /\nBEGIN { $a = C/*\n; cat("/root/secret"); //*/ + 2;\nexit(); }', expected: "define" },
  { name: "a macro named after a keyword the server's guard uses", program: "#define interval / /\nBEGIN { exit(); }", expected: "define" },
  { name: "a lower-case macro name hiding a builtin the guard reads", program: "#define elapsed 0\nBEGIN { exit(); }", expected: "define" },
  { name: "a macro named BEGIN", program: "#define BEGIN 1\nEND { exit(); }", expected: "define" },
  { name: "a function-like macro, even a harmless one", program: "#define TWICE(x) 2\nBEGIN { @ = TWICE(1); }", expected: "define" },
  { name: "a macro holding an expression", program: "#define MAX_BYTES (1 << 20)\nBEGIN { @ = MAX_BYTES; }", expected: "define" },
  { name: "a macro holding an identifier", program: "#define WHO comm\nkprobe:f { @[WHO] = count(); }", expected: "define" },
  { name: "a ??/ trigraph inside a // comment", program: "BEGIN { // harmless ??/\ncat(\"/etc/shadow\"); }", expected: "preprocessor" },
  { name: "a ??= trigraph starting a line", program: "  ??=include <linux/sched.h>\nBEGIN { exit(); }", expected: "preprocessor" },
  { name: "a trigraph in code", program: "BEGIN { @ = 1 ??' 2; }", expected: "preprocessor" },
  { name: "a quoted watchpoint provider", program: '"watchpoint":0x404020:8:w { @ = count(); }', expected: "probe" },
  { name: "a watchpoint with quoted segments", program: 'w:"0x404020":8:"w" { @ = count(); }', expected: "probe" },
  { name: "an iterator without a pin (it walks every task, the server's too)", program: 'iter:task { printf("%s:%d\\n", ctx->task->comm, ctx->task->pid); }', expected: "probe" },
  { name: "a program with no probe at all", program: "// nothing here\n", expected: "structure" },
  { name: "stray tokens where a probe should start", program: "1 + 2 { }", expected: "structure" },
  { name: "BEGIN sharing a block with a traced probe", program: "BEGIN, tracepoint:syscalls:sys_enter_read { @ = count(); }", expected: "probe" },
  { name: "an interval probe reading the interrupted task's comm", program: 'interval:ms:1 { printf("%s\\n", comm); }', expected: "timer-probe" },
  { name: "an interval probe reading user memory", program: "interval:ms:1 { @ = str(uptr(0x7fff0000)); }", expected: "timer-probe" },
  { name: "an interval probe sampling user stacks", program: "i:ms:1 { @[ustack] = count(); }", expected: "timer-probe" },
  { name: "a uprobe on a file the server's user cannot read", program: "uprobe:/root/secret.sh:foo { @ = count(); }", expected: "probe-target" },
  { name: "a usdt probe on a file the server's user cannot read", program: "usdt:/root/app:prov:probe { @ = count(); }", expected: "probe-target" },
  { name: "a uprobe path with a wildcard", program: "uprobe:/usr/lib/*/libc.so.6:malloc { @ = count(); }", expected: "probe-target" },
  { name: "a relative uprobe path", program: "uprobe:./bin/app:main { @ = count(); }", expected: "probe-target" },
  { name: "a config block enabling unsafe", program: "config = { unsafe = 1 }\nBEGIN { exit(); }", expected: "config" },
  { name: "a config block raising a limit", program: "config = { max_map_keys = 1000000; missing_probes = warn; }\nBEGIN { exit(); }", expected: "config" },
  { name: "a config block with the old variable names", program: "config = { BPFTRACE_LOG_SIZE = 100000000 }\nBEGIN { exit(); }", expected: "config" },
  { name: "a config block with a string length over the bound", program: "config = { max_strlen = 100000 }\nBEGIN { exit(); }", expected: "config" },
  { name: "config assigned inside an action block", program: "BEGIN { config = 1; }", expected: "config" },
  { name: "bpftrace 0.27's internal __signal macro", program: "kprobe:f { __signal(9, 0); }", expected: "builtin" },
  { name: "an internal __builtin_ function", program: "kprobe:f { @ = __builtin_safe_mode(); }", expected: "builtin" },
  { name: "a kfunc that signals a task", program: "kprobe:f { bpf_send_signal_task(curtask, 9, 0, 0); }", expected: "builtin" },
  { name: "a pinned iterator", program: 'iter:task_file:/sys/fs/bpf/files { printf("%d\\n", ctx->fd); }', expected: "probe" },

  // Legitimate programs.
  { name: "strings containing banned words", program: 'tracepoint:syscalls:sys_enter_openat { printf("cat %s\\n", str(args->filename)); }', expected: "allow" },
  { name: "comments containing banned calls", program: '// system("x")\nBEGIN { /* cat("/etc") */ exit(); } // signal(9)\n', expected: "allow" },
  { name: "maps and variables named like builtins", program: 'BEGIN { @cat = 1; $system = 2; @signal[comm] = count(); @override = $system; }', expected: "allow" },
  { name: "the sys_enter_kill tracepoint", program: 'tracepoint:syscalls:sys_enter_kill { printf("%d -> %d sig %d\\n", pid, args->pid, args->sig); }', expected: "allow" },
  { name: "the signal_generate tracepoint", program: "tracepoint:signal:signal_generate { @[args->sig] = count(); }", expected: "allow" },
  { name: "struct fields named signal", program: "kprobe:do_exit { $t = (struct task_struct *)curtask; @[comm] = $t->signal->nr_threads; @x = curtask->signal; }", expected: "allow" },
  { name: "probe names containing cat and signal", program: "kprobe:cat_something, uprobe:/bin/cat:main { @[probe] = count(); }\nself:signal:SIGUSR1 { print(@); }", expected: "allow" },
  { name: "kernel headers with a curtask cast", program: '#include <linux/sched.h>\nkprobe:do_nanosleep { $task = (struct task_struct *)curtask; printf("%s %d\\n", $task->comm, $task->tgid); }', expected: "allow" },
  { name: "net/sock.h for socket fields", program: "#include <net/sock.h>\nkprobe:tcp_connect { $sk = (struct sock *)arg0; @[ntop($sk->__sk_common.skc_daddr)] = count(); }", expected: "allow" },
  { name: "#define constants and conditionals", program: "#define TASK_COMM_LEN 16\n#define MAX_BYTES 1048576 // one MiB\n#ifndef BPFTRACE_HAVE_BTF\n#error this tool needs BTF\n#else\n#include <linux/limits.h>\n#endif\nkprobe:vfs_read /arg2 < MAX_BYTES/ { @[comm] = sum(arg2); @len = PATH_MAX; }", expected: "allow" },
  { name: "macros used in predicates and actions", program: "#define TARGET_PID 42\n#define KB 1024\nkprobe:vfs_read /pid == TARGET_PID/ { @kb = hist(arg2 / KB); }", expected: "allow" },
  { name: "a struct definition with brace-free comments", program: "struct nameidata {\n  struct path path; // from fs/namei.c\n  struct qstr last;\n  /* [...] */\n};\nkprobe:lookup_fast { $nd = (struct nameidata *)arg0; @[str($nd->last.name)] = count(); }", expected: "allow" },
  { name: "predicates with division", program: "kprobe:vfs_read /arg2 / 2 > 100/ { @kb = hist(arg2 / 1024); @pages = avg(arg2 * 10 / 4096); }\ninterval:s:1 { print(@kb); }", expected: "allow" },
  { name: "a realistic 30-line tool", program: OPEN_LATENCY_TOOL, expected: "allow" },
  { name: "harmless builtins", program: 'kprobe:vfs_read { @s[kstack, ustack] = count(); printf("%s %s %r\\n", ksym(reg("ip")), usym(reg("ip")), buf(kptr(arg1), 8)); $u = uptr(arg1); @c[cgroup] = count(); time("%H:%M:%S "); printf("%s\\n", strftime("%H", nsecs)); print(@s); zero(@c); delete(@s[kstack, ustack]); clear(@c); exit(); }', expected: "allow" },
  { name: "path, join and cgroupid", program: 'fentry:vfs_open { printf("%s\\n", path(args->path)); }\ntracepoint:syscalls:sys_enter_execve { join(args->argv); }\nBEGIN { @id = cgroupid("/sys/fs/cgroup/system.slice"); }', expected: "allow" },
  { name: "a uprobe on a libc path", program: 'uprobe:/lib/x86_64-linux-gnu/libc.so.6:getaddrinfo { printf("%s\\n", str(arg0)); }', expected: "allow" },
  { name: "a quoted uprobe path", program: 'uprobe:"/opt/my app/bin":main { @ = count(); }', expected: "allow" },
  { name: "usdt, interval, wildcards and several probes", program: "usdt:/usr/lib/libpython3.so:python:function__entry { @ = count(); }\ntracepoint:syscalls:sys_enter_*, kprobe:vfs_* { @[probe] = count(); }\ninterval:s:1 { print(@); }\nBEGIN, END { }", expected: "allow" },
  { name: "offsetof naming the signal field", program: "BEGIN { @off = offsetof(struct task_struct, signal); exit(); }", expected: "allow" },
  { name: "a struct definition with fields named after builtins", program: "struct foo { int signal; int cat; }\nkprobe:f { $p = (struct foo *)arg0; @ = $p->cat; }", expected: "allow" },
  { name: "non-ASCII text in strings and comments", program: '// résumé ✓\nBEGIN { printf("naïve ✓ %s\\n", "日本"); exit(); }', expected: "allow" },
  { name: "question marks that are not trigraphs", program: 'BEGIN { printf("really?? %d\\n", pid > 1 ? 1 : 0); }', expected: "allow" },
  { name: "CRLF with includes and defines", program: "#include <linux/limits.h>\r\n#define LIMIT 10\r\nBEGIN { @ = LIMIT; }\r\n", expected: "allow" },
  { name: "CRLF line endings", program: "BEGIN\r\n{\r\n  exit();\r\n}\r\n", expected: "allow" },
  { name: "comments around probes and predicates", program: "/* header */ kprobe:vfs_read // the read path\n/pid == 123/ /* only one process */ { @bytes = sum(arg2); }\n", expected: "allow" },
  { name: "escaped quotes in strings", program: 'BEGIN { printf("\\"cat\\" %s \\\\ \\n", comm); exit(); }', expected: "allow" },
  { name: "ternaries and a pointer-field call-free expression", program: "kprobe:vfs_read { $x = pid > 1 ? 1 : 2; @[$x] = count(); }", expected: "allow" },
  { name: "a config block that only tolerates missing probes", program: 'config = { missing_probes = "ignore" }\ntracepoint:syscalls:sys_enter_openat { @[comm] = count(); }', expected: "allow" },
  { name: "config keys that shape output, old and new spellings", program: "config = { missing_probes = warn; print_maps_on_exit = 0; stack_mode = perf; BPFTRACE_STRLEN = 128; max_strlen = 200 }\nkprobe:f { @[kstack] = count(); }", expected: "allow" },
  { name: "a comment with ??) in it", program: "// (why is games in my $PATH??)\nBEGIN { printf(\"??) ??( ??!\\n\"); exit(); }", expected: "allow" },
  { name: "a quoted provider and quoted segments", program: '"profile":hz:49 { @[kstack] = count(); }\ntracepoint:"syscalls":"sys_enter_openat" { @o = count(); }', expected: "allow" },
  { name: "an interval probe that prints and clears maps", program: 'kprobe:vfs_read { @[comm, pid] = count(); }\ninterval:s:1 { time("%H:%M:%S\\n"); print(@); clear(@); }\ninterval:s:10 { exit(); }', expected: "allow" },
  { name: "macros that name numbers and strings, negative and with comments", program: '#define NEG -1\n#define HEX 0x10 /* sixteen */\n#define MSG "hi // not a comment"\n#define FLAG\nBEGIN { @a = NEG; @b = HEX; printf("%s\\n", MSG); exit(); }', expected: "allow" },
  { name: "map declarations and macros of newer bpftrace", program: "let @a = lruhash(100);\nmacro add_one(x) { x + 1 }\nbegin { @a[1] = add_one(1); }", expected: "allow" },
];

describe("checkProgram: the program table", () => {
  it("holds at least 50 programs, refused and allowed", () => {
    expect(ROWS.length).toBeGreaterThanOrEqual(50);
    expect(ROWS.filter((row) => row.expected === "allow").length).toBeGreaterThanOrEqual(15);
  });

  it.each(ROWS.filter((row) => row.expected !== "allow"))("refuses $name (rule $expected)", ({ program, expected }) => {
    const decision = check(program);
    expect(decision.allowed).toBe(false);
    expect(decision.violations.map((violation) => violation.rule)).toContain(expected);
  });

  it.each(ROWS.filter((row) => row.expected === "allow"))("allows $name", ({ program }) => {
    const decision = check(program);
    expect(decision.violations).toEqual([]);
    expect(decision.allowed).toBe(true);
    expect(decision.structure).toEqual({ balanced: true });
  });
});

describe("checkProgram: allow flags loosen exactly what they name", () => {
  const catProgram = 'interval:s:1 { cat("/proc/loadavg"); }';
  const quotedInclude = '#include "local.h"\nBEGIN { exit(); }';

  it("re-enables cat() with the cat flag, and nothing else", () => {
    expect(check(catProgram, ["cat"]).allowed).toBe(true);
    expect(check('interval:s:1 { cat("/proc/loadavg"); }', ["cat"]).allowed).toBe(true);
    expect(check('#define LOAD cat("/proc/loadavg")\ninterval:s:1 { LOAD; }', ["cat"]).violations.map((v) => v.rule)).toEqual(["define"]);
    expect(check('BEGIN { system("id"); }', ["cat"]).violations.map((v) => v.rule)).toEqual(["builtin"]);
    expect(check(quotedInclude, ["cat"]).violations.map((v) => v.rule)).toEqual(["include"]);
    expect(check("config = { max_cat_bytes = 100000 }\nBEGIN { exit(); }", ["cat"]).allowed).toBe(false);
  });

  it("allows any #include form with the include flag, and nothing else", () => {
    for (const include of ['#include "local.h"', "#include </opt/x/include/y.h>", "#include <../x.h>"]) {
      expect(check(`${include}\nBEGIN { exit(); }`, ["include"]).allowed).toBe(true);
    }
    expect(check(catProgram, ["include"]).violations.map((v) => v.rule)).toEqual(["builtin"]);
    expect(check("#include_next <linux/fs.h>\nBEGIN { exit(); }", ["include"]).violations.map((v) => v.rule)).toEqual(["preprocessor"]);
    expect(check('import "x.bt";\nBEGIN { exit(); }', ["include"]).violations.map((v) => v.rule)).toEqual(["import"]);
    expect(check("#include <linux/fs.h> \\\n\nBEGIN { exit(); }", ["include"]).violations.map((v) => v.rule)).toEqual(["continuation"]);
  });

  it("keeps every default refusal when both flags are set, except cat and includes", () => {
    const both: AllowFlag[] = ["cat", "include"];
    expect(check(catProgram, both).allowed).toBe(true);
    expect(check(quotedInclude, both).allowed).toBe(true);
    for (const name of ["system", "signal", "override", "debugf", "skboutput"]) {
      expect(check(`kprobe:f { ${name}(1); }`, both).allowed).toBe(false);
    }
  });
});

describe("checkProgram: facts the server reports", () => {
  it("lists top-level probes, including every probe of a comma-separated list", () => {
    const decision = check(
      "BEGIN { }\nkprobe:vfs_read, kprobe:vfs_write /pid == 1/ { @[probe] = count(); }\nuprobe:/lib/x86_64-linux-gnu/libc.so.6:getaddrinfo { }\ninterval:s:5 { exit(); }\nEND { }",
    );
    expect(decision.probes).toEqual([
      "BEGIN",
      "kprobe:vfs_read",
      "kprobe:vfs_write",
      "uprobe:/lib/x86_64-linux-gnu/libc.so.6:getaddrinfo",
      "interval:s:5",
      "END",
    ]);
  });

  it("does not report struct definitions, config blocks or macros as probes", () => {
    expect(check("struct S { int a; }\nmacro one() { 1 }\nBEGIN { @ = one(); }").probes).toEqual(["BEGIN"]);
  });

  it("lists includes as written, refused ones too", () => {
    const decision = check('#include <linux/sched.h>\n#include <net/sock.h>\n#include "mine.h"\nBEGIN { exit(); }');
    expect(decision.includes).toEqual(["linux/sched.h", "net/sock.h", "mine.h"]);
  });

  it("reports the first structure problem with its position", () => {
    expect(check("BEGIN { exit(); ").structure).toEqual({
      balanced: false,
      problem: { line: 1, column: 7, message: "`{` is never closed" },
    });
    expect(check("BEGIN { exit(); ) }").structure.problem).toEqual({
      line: 1,
      column: 17,
      message: "`)` does not match `{` opened at line 1",
    });
    expect(check('BEGIN {\n  printf("x);\n}').structure.problem).toEqual({ line: 2, column: 10, message: "unterminated string literal" });
  });

  it("gives 1-based line and column of each violation, in source order", () => {
    const decision = check('BEGIN {\n  system("id");\n}\nkprobe:f { cat("/etc/shadow"); signal(9); }\n');
    expect(decision.violations.map(({ rule, construct, line, column }) => ({ rule, construct, line, column }))).toEqual([
      { rule: "builtin", construct: "system(", line: 2, column: 3 },
      { rule: "builtin", construct: "cat(", line: 4, column: 12 },
      { rule: "builtin", construct: "signal(", line: 4, column: 32 },
    ]);
  });

  it("locates a banned name inside a #define body at its own column", () => {
    const violation = check('#define C cat("/etc/shadow")\nBEGIN { C; }').violations.find((v) => v.construct === "cat");
    expect(violation).toMatchObject({ rule: "define", construct: "cat", line: 1, column: 11 });
  });
});

describe("checkProgram: size limits", () => {
  it("refuses a program over the byte limit without analysing it", () => {
    const decision = checkProgram(`BEGIN { printf("${"x".repeat(200)}"); }`, { ...DEFAULTS, maxBytes: 100 });
    expect(decision.violations).toHaveLength(1);
    expect(decision.violations[0]).toMatchObject({ rule: "size", line: 1, column: 1 });
    expect(decision.violations[0]?.reason).toContain("limit is 100");
    expect(decision.structure.balanced).toBe(false);
  });

  it("counts bytes, not characters", () => {
    expect(checkProgram('BEGIN { printf("éé"); }\n', { ...DEFAULTS, maxBytes: 25 }).allowed).toBe(false);
    expect(checkProgram('BEGIN { printf("éé"); }\n', { ...DEFAULTS, maxBytes: 26 }).allowed).toBe(true);
  });

  it("refuses a program over the line limit, pointing at the first extra line", () => {
    const program = "BEGIN {\n" + "  @x = 1;\n".repeat(5) + "}\n";
    const decision = checkProgram(program, { ...DEFAULTS, maxLines: 4 });
    expect(decision.violations).toEqual([expect.objectContaining({ rule: "size", line: 5, construct: "7 lines" })]);
    expect(checkProgram(program, { ...DEFAULTS, maxLines: 7 }).allowed).toBe(true);
  });
});

describe("formatRefusal", () => {
  it("writes one line per violation with position, construct, reason and alternative", () => {
    const text = formatRefusal(check('BEGIN { cat("/etc/shadow"); }\n#pragma once\n'));
    const lines = text.split("\n");
    expect(lines[0]).toMatch(/^line 1, column 9: `cat\(` — cat\(\) prints the contents of any file.*\. Instead: trace which files are opened/);
    expect(lines[1]).toMatch(/^line 2, column 1: `#pragma once` — #pragma changes how clang compiles the program\. Instead: use only #include/);
    expect(lines).toHaveLength(2);
  });

  it("shows invisible characters by code point, never raw", () => {
    const text = formatRefusal(check('BEGIN { printf("\u202Ex"); }'));
    expect(text).toContain("`U+202E`");
    expect(text).not.toContain("\u202E");
  });

  it("says the program passed when it is allowed", () => {
    expect(formatRefusal(check("BEGIN { exit(); }"))).toBe("The program passed the policy check.");
  });
});
