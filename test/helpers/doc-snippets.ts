import { readFileSync } from "node:fs";

/** A piece of a document a reader may copy: a fenced code block, or an inline code span. */
export interface Snippet {
  /** The document, relative to the repository. */
  file: string;
  /** The line its text starts on (1-based). */
  line: number;
  kind: "fenced" | "inline";
  /** A fenced block's info string ("json", "sh", ""). */
  lang: string;
  text: string;
}

/** Every fenced block and every inline code span of a markdown file, in order. */
export function extractSnippets(path: string, file: string): Snippet[] {
  const lines = readFileSync(path, "utf8").split("\n");
  const snippets: Snippet[] = [];
  let fence = null as { marker: string; lang: string; start: number; body: string[] } | null;
  for (const [index, text] of lines.entries()) {
    const opener = /^\s*(`{3,}|~{3,})\s*([\w-]*)/.exec(text);
    if (fence !== null) {
      if (opener !== null && text.trim().startsWith(fence.marker) && text.trim().replace(/[`~]/g, "") === "") {
        snippets.push({ file, line: fence.start, kind: "fenced", lang: fence.lang, text: fence.body.join("\n") });
        fence = null;
      } else fence.body.push(text);
      continue;
    }
    if (opener !== null) {
      fence = { marker: opener[1] ?? "```", lang: opener[2] ?? "", start: index + 2, body: [] };
      continue;
    }
    for (const match of text.matchAll(/(?<!`)`([^`\n]+)`(?!`)/g)) snippets.push({ file, line: index + 1, kind: "inline", lang: "", text: match[1] ?? "" });
  }
  if (fence !== null) throw new Error(`${file}: a code block opened on line ${fence.start - 1} is never closed`);
  return snippets;
}

/** One command of a shell line: its words (quotes removed) and the operator that follows it. */
export interface ShellCommand {
  words: string[];
  /** "&&", "||", "|", ";" or "" at the end. */
  then: string;
}

/**
 * Splits a shell line into commands and words the way sh would (quotes, backslashes, # comments,
 * && || | ;), without expanding anything: `$VAR` and `${X:-y}` stay as written.
 */
export function splitShell(line: string): ShellCommand[] {
  const commands: ShellCommand[] = [];
  let words: string[] = [];
  let word = "";
  let inWord = false;
  const endWord = () => {
    if (inWord) words.push(word);
    word = "";
    inWord = false;
  };
  const endCommand = (then: string) => {
    endWord();
    if (words.length > 0 || then !== "") commands.push({ words, then });
    words = [];
  };
  for (let index = 0; index < line.length; index += 1) {
    const char = line[index] ?? "";
    const next = line[index + 1] ?? "";
    if (char === "'") {
      const close = line.indexOf("'", index + 1);
      if (close < 0) throw new Error(`unclosed ' in: ${line}`);
      word += line.slice(index + 1, close);
      inWord = true;
      index = close;
    } else if (char === '"') {
      inWord = true;
      for (index += 1; index < line.length && line[index] !== '"'; index += 1) {
        if (line[index] === "\\" && /["\\$`]/.test(line[index + 1] ?? "")) index += 1;
        word += line[index] ?? "";
      }
      if (index >= line.length) throw new Error(`unclosed " in: ${line}`);
    } else if (char === "\\") {
      word += next;
      inWord = true;
      index += 1;
    } else if (char === "#" && !inWord) {
      break;
    } else if (/\s/.test(char)) {
      endWord();
    } else if ((char === "&" && next === "&") || (char === "|" && next === "|")) {
      endCommand(char + next);
      index += 1;
    } else if (char === "|" || char === ";") {
      endCommand(char);
    } else {
      word += char;
      inWord = true;
    }
  }
  endCommand("");
  return commands;
}

/** A block's lines joined where they end in a backslash, without blank ones. */
export function logicalLines(text: string): { text: string; offset: number }[] {
  const result: { text: string; offset: number }[] = [];
  const lines = text.split("\n");
  for (let index = 0; index < lines.length; index += 1) {
    const start = index;
    let joined = lines[index] ?? "";
    while (/\\$/.test(joined) && index + 1 < lines.length) {
      index += 1;
      joined = `${joined.slice(0, -1)} ${lines[index] ?? ""}`;
    }
    if (joined.trim() !== "") result.push({ text: joined, offset: start });
  }
  return result;
}
