// The policy worker (see gate.ts): decides each program it is sent with the same options as the
// main thread, and sends the decision back (plain data: the probe sites, not the tokens).

import { parentPort, workerData } from "node:worker_threads";
import { checkProgram } from "../policy/index.js";
import { policyOptions, type GateSettings } from "./gate.js";

const options = policyOptions(workerData as GateSettings);

parentPort?.on("message", (message: { id: number; program: string }) => {
  parentPort?.postMessage({ id: message.id, decision: checkProgram(message.program, options) });
});
