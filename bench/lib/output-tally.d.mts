export interface Tally {
  lines: number;
  printfLines: number;
  lostEvents: number;
  lostReports: number;
  stderrLines: number;
  maps: Record<string, number>;
}
export function newTally(): Tally;
export function addLine(tally: Tally, stream: "stdout" | "stderr", text: string, printfPrefix: string): void;
export function tallyExecution(
  server: unknown,
  executionId: string,
  printfPrefix: string,
): Promise<{ tally: Tally; linesTotal: number; linesDropped: number; status: string }>;
