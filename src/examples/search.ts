// Finding examples by the words of a question: filler words dropped, simple stems, synonyms, and a
// score that weighs where each word is found.

import type { Example } from "./catalog.js";

/** Criteria for {@link searchExamples}; both are optional and combine with AND. */
export interface ExampleFilter {
  /** Words, any of which may match (see searchExamples). */
  query?: string | undefined;
  /** An exact tag. */
  tag?: string | undefined;
}

/**
 * Examples matching the filter, best first. A query matches an example when any of its words does
 * (after dropping filler words, reducing each to a simple stem and adding synonyms); the score
 * weighs where each word is found (name and title most, then tags, then question and probes) and
 * rewards examples that match more of the words.
 */
export function searchExamples(examples: readonly Example[], filter: ExampleFilter): Example[] {
  const words = queryTerms(filter.query ?? "");
  const tag = filter.tag?.trim().toLowerCase();
  const ranked: { example: Example; score: number }[] = [];
  for (const example of examples) {
    if (tag !== undefined && tag !== "" && !example.tags.includes(tag)) continue;
    if (words.length === 0) {
      ranked.push({ example, score: 0 });
      continue;
    }
    const fields = [
      { stems: stemsOf(`${example.name.replaceAll("-", " ")} ${example.title}`), weight: 3 },
      { stems: stemsOf(example.tags.join(" ")), weight: 2 },
      { stems: stemsOf(`${example.question} ${example.probes.join(" ")}`), weight: 1 },
    ];
    let score = 0;
    let matched = 0;
    for (const [word, ...synonyms] of words) {
      // A word found as itself counts fully, through a synonym half; the best field counts.
      let best = 0;
      for (const { stems, weight } of fields) {
        if (word !== undefined && stems.has(word)) best = Math.max(best, weight);
        else if (synonyms.some((synonym) => stems.has(synonym))) best = Math.max(best, weight / 2);
      }
      if (best > 0) matched += 1;
      score += best;
    }
    if (matched === 0) continue;
    ranked.push({ example, score: score + matched * matched });
  }
  ranked.sort((a, b) => b.score - a.score || a.example.name.localeCompare(b.example.name));
  return ranked.map(({ example }) => example);
}

// Words that say nothing about which program fits.
const FILLER = new Set(
  "a an and are as at be been by can do does for from has have how i in into is it its keep keeps me my of on or so some that the their them there these this to up was what when where which while who whom why will with".split(" "),
);

// A word (as stemmed) and what else it may be called in the library.
const SYNONYMS: Record<string, string[]> = {
  spawn: ["fork", "child", "exec", "short-lived"],
  fork: ["spawn", "child", "exec"],
  child: ["fork", "spawn"],
  children: ["child", "fork", "spawn"],
  start: ["exec", "spawn"],
  launch: ["exec", "spawn"],
  run: ["exec"],
  miss: ["enoent", "error", "fail"],
  nonexistent: ["enoent", "error", "fail"],
  exist: ["enoent", "error", "fail", "missing"],
  fail: ["error", "errno", "failure"],
  error: ["fail", "errno"],
  deni: ["eacces", "eperm", "error"],
  slow: ["latency"],
  latency: ["slow"],
  wait: ["latency"],
  dns: ["getaddrinfo", "lookup", "resolve", "host"],
  resolv: ["dns", "lookup", "getaddrinfo"],
  lookup: ["dns", "resolve"],
  hostnam: ["dns", "host"],
  disk: ["block", "io"],
  io: ["disk", "block"],
  cpu: ["on-cpu", "profile", "oncpu"],
  busy: ["cpu"],
  burn: ["cpu"],
  hot: ["cpu", "profile"],
  sync: ["fsync", "fdatasync"],
  flush: ["fsync"],
  network: ["tcp"],
  connect: ["tcp"],
  memory: ["mmap", "oom", "fault"],
  kill: ["signal"],
  crash: ["signal", "exit"],
  die: ["exit", "signal"],
  syscall: ["system", "call"],
  fil: ["open", "files"],
  writ: ["written"],
  delet: ["unlink"],
  remov: ["unlink", "delete"],
  thread: ["clone", "newtask"],
};

/** The query's words, each as alternatives: its stem first, then its synonyms. */
function queryTerms(query: string): string[][] {
  const words = query.toLowerCase().match(/[a-z0-9_]+(?:-[a-z0-9_]+)*/g) ?? [];
  const terms: string[][] = [];
  for (const word of words) {
    if (FILLER.has(word)) continue;
    const stem = stemOf(word);
    terms.push([stem, ...(SYNONYMS[stem] ?? []).flatMap((synonym) => [...stemsOf(synonym)])]);
  }
  return terms;
}

/** Every word of `text` as a stem, plus the whole of hyphenated and snake_case words. */
function stemsOf(text: string): Set<string> {
  const stems = new Set<string>();
  for (const word of text.toLowerCase().match(/[a-z0-9_]+(?:-[a-z0-9_]+)*/g) ?? []) {
    stems.add(stemOf(word));
    for (const part of word.split(/[-_]/)) if (part !== "") stems.add(stemOf(part));
  }
  return stems;
}

/** A crude English stem: enough that "spawns", "spawning", "spawner" and "spawned" meet "spawn". */
export function stemOf(word: string): string {
  let stem = word;
  if (stem.length > 4 && stem.endsWith("ies")) stem = `${stem.slice(0, -3)}y`;
  else if (stem.length > 3 && stem.endsWith("s") && !stem.endsWith("ss")) stem = stem.slice(0, -1);
  if (stem.length > 5 && stem.endsWith("ing")) stem = stem.slice(0, -3);
  else if (stem.length > 4 && (stem.endsWith("ed") || stem.endsWith("er"))) stem = stem.slice(0, -2);
  if (stem.length > 3 && stem.endsWith("e")) stem = stem.slice(0, -1);
  return stem;
}

