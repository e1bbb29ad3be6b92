// The program gate: everything the server needs to decide whether a bpftrace program or probe filter may run.

export { checkProgram, formatRefusal } from "./policy.js";
export type { PolicyDecision, PolicyOptions, PolicyViolation } from "./policy.js";
export { checkProbeFilter } from "./probe-filter.js";
export type { ProbeFilterCheck } from "./probe-filter.js";
export { BANNED_BUILTINS } from "./rules.js";
export type { AllowFlag, BannedBuiltin } from "./rules.js";
export { inUserTerms, instrumentProgram, processFilterTerms, selfExclusion, userTermsFilter } from "./instrument.js";
export type { Instrumented, InstrumentOptions, ProcessFilter } from "./instrument.js";
