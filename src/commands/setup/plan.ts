import type { ClientId } from "./args.js";
import { CLIENTS, mergeEntry, type EntryPlan, type Places, type PromptInput } from "./clients.js";
import { readConfigFile, type ConfigFile } from "./config-file.js";
import { isRecord, jsonEqual, JsonSyntaxError, parseJsonDocument, setAtPath, type JsonDocument } from "./json-text.js";

/** A change `setup` can make, worked out without touching anything. */
export interface SetupPlan {
  client: ClientId;
  file: ConfigFile;
  document: JsonDocument;
  /** Keys from the file's top to the entry. */
  entryPath: string[];
  current: unknown;
  /** The entry after the change; undefined when it is removed. */
  next: Record<string, unknown> | undefined;
  inputChange: InputChange | undefined;
  status: "create" | "add" | "update" | "unchanged" | "remove" | "absent";
  notes: string[];
  /** The file's new text (equal to the old when unchanged). */
  newText: string;
}

/** A change to VS Code's `inputs` array. */
export interface InputChange {
  /** Index of the input to replace or remove; -1 appends. */
  index: number;
  value: PromptInput | undefined;
}

/** A config file that setup will not edit; nothing was changed. */
export class ConfigRefused extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConfigRefused";
  }
}

function valueAt(root: unknown, path: readonly string[]): { value: unknown; blockedAt: string | null } {
  let node = root;
  for (const [depth, key] of path.entries()) {
    if (node === undefined) return { value: undefined, blockedAt: null };
    if (!isRecord(node)) return { value: undefined, blockedAt: path.slice(0, depth).join(" > ") || "the top level" };
    node = Object.hasOwn(node, key) ? node[key] : undefined;
  }
  return { value: node, blockedAt: null };
}

function syntaxMessage(path: string, error: JsonSyntaxError, jsonc: boolean): string {
  const gutter = " ".repeat(String(error.line).length);
  return [
    `${path} is not valid ${jsonc ? "JSON with comments" : "JSON"}: line ${error.line}, column ${error.column}: ${error.message}`,
    `  ${error.line} | ${error.lineText}`,
    `  ${gutter} | ${" ".repeat(Math.max(0, error.column - 1))}^`,
    "The file was not changed. Fix it (or restore a backup) and run setup again.",
  ].join("\n");
}

/** Input ids a server map still refers to as ${input:id}. */
function referencedInputs(servers: unknown, except: string): Set<string> {
  const ids = new Set<string>();
  if (!isRecord(servers)) return ids;
  for (const [name, entry] of Object.entries(servers)) {
    if (name === except) continue;
    for (const match of JSON.stringify(entry).matchAll(/\$\{input:([^}]+)\}/g)) ids.add(match[1] ?? "");
  }
  return ids;
}

function planInputs(root: unknown, servers: unknown, name: string, wanted: PromptInput | undefined, ownId: string): InputChange | undefined {
  const inputs = isRecord(root) && Array.isArray(root.inputs) ? (root.inputs as unknown[]) : [];
  const id = wanted?.id ?? ownId;
  const index = inputs.findIndex((input) => isRecord(input) && input.id === id);
  if (wanted !== undefined) {
    if (index >= 0 && jsonEqual(inputs[index], wanted)) return undefined;
    return { index, value: wanted };
  }
  // Ours and no longer used by any other server: remove it with the entry.
  if (index < 0 || referencedInputs(servers, name).has(id)) return undefined;
  return { index, value: undefined };
}

function applyInputChange(document: JsonDocument, text: string, change: InputChange): string {
  const edited = { ...document, text };
  const root = parseJsonDocument(text, { jsonc: true }).value;
  if (!isRecord(root) || !Array.isArray(root.inputs)) return change.value === undefined ? text : setAtPath(edited, ["inputs"], [change.value]);
  if (change.index < 0) return setAtPath(edited, ["inputs", -1], change.value);
  // Our input was the only one: the array goes with it.
  if (change.value === undefined && root.inputs.length === 1) return setAtPath(edited, ["inputs"], undefined);
  return setAtPath(edited, ["inputs", change.index], change.value);
}

/** Reads the client's file and works out the change; throws ConfigRefused when the file cannot be edited safely. */
export function planSetup(options: {
  client: ClientId;
  scope: string;
  name: string;
  filePath: string;
  places: Places;
  /** Undefined: remove the entry. */
  wanted: EntryPlan | undefined;
}): SetupPlan {
  const spec = CLIENTS[options.client];
  const file = readConfigFile(options.filePath);
  let document: JsonDocument;
  try {
    document = parseJsonDocument(file.text ?? "", { jsonc: spec.jsonc });
  } catch (error) {
    if (error instanceof JsonSyntaxError) throw new ConfigRefused(syntaxMessage(file.path, error, spec.jsonc));
    throw error;
  }
  if (!isRecord(document.value)) throw new ConfigRefused(`${file.path}: the top level is not a JSON object; the file was not changed`);
  const serversPath = spec.serversPath(options.scope, options.places);
  const servers = valueAt(document.value, serversPath);
  if (servers.blockedAt !== null || (servers.value !== undefined && !isRecord(servers.value))) {
    throw new ConfigRefused(`${file.path}: "${serversPath.join(" > ")}" is not a JSON object; the file was not changed`);
  }
  if (options.client === "vscode" && document.value.inputs !== undefined && !Array.isArray(document.value.inputs)) {
    throw new ConfigRefused(`${file.path}: "inputs" is not a JSON array; the file was not changed`);
  }
  const entryPath = [...serversPath, options.name];
  const current = isRecord(servers.value) && Object.hasOwn(servers.value, options.name) ? servers.value[options.name] : undefined;
  const next = options.wanted === undefined ? undefined : mergeEntry(current, options.wanted.entry);
  const inputChange = spec.jsonc && options.client === "vscode" ? planInputs(document.value, servers.value, options.name, options.wanted?.input, `${options.name}-token`) : undefined;

  let status: SetupPlan["status"];
  if (next === undefined) status = current === undefined ? "absent" : "remove";
  else if (current === undefined) status = file.text === null ? "create" : "add";
  else status = jsonEqual(current, next) ? "unchanged" : "update";
  if (status === "unchanged" && inputChange !== undefined) status = "update";
  if (status === "absent" && inputChange !== undefined) status = "remove";

  let newText = file.text ?? "";
  if (status !== "unchanged" && status !== "absent") {
    if (!jsonEqual(current, next)) newText = setAtPath(document, entryPath, next);
    if (inputChange !== undefined) newText = applyInputChange(document, newText, inputChange);
    newText = `${document.bom}${newText}`;
  }
  return { client: options.client, file, document, entryPath, current, next, inputChange, status, notes: options.wanted?.notes ?? [], newText };
}

/** Whether a text, read back, holds `next` at `path` (a check that the edit did what was planned). */
export function holdsEntry(text: string, jsonc: boolean, path: readonly string[], next: Record<string, unknown> | undefined): boolean {
  const document = parseJsonDocument(text, { jsonc });
  return jsonEqual(valueAt(document.value, path).value, next);
}
