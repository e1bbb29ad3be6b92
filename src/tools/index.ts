import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { registerBpfInfoTool } from "./bpf-info.js";
import { registerCompareExecutionsTool } from "./compare-executions.js";
import { registerSessionsTool } from "./sessions.js";
import { registerDescribeStructTool } from "./describe-struct.js";
import { registerGetExampleTool } from "./get-example.js";
import { registerListExamplesTool } from "./list-examples.js";
import { registerValidateProgramTool } from "./validate-program.js";
import type { ToolContext, ToolRegistrar } from "./context.js";
import { registerExecProgramTool } from "./exec-program.js";
import { registerGetResultTool } from "./get-result.js";
import { registerListExecutionsTool } from "./list-executions.js";
import { registerListProbesTool } from "./list-probes.js";
import { registerStopExecutionTool } from "./stop-execution.js";
import { cacheToolList } from "./tool-list-cache.js";
import { trustToolOutput } from "./trusted-output.js";

/** Every tool, in the order clients list them. */
export const TOOL_REGISTRARS: readonly ToolRegistrar[] = [
  registerListProbesTool,
  registerBpfInfoTool,
  registerExecProgramTool,
  registerGetResultTool,
  registerStopExecutionTool,
  registerListExecutionsTool,
  registerValidateProgramTool,
  registerListExamplesTool,
  registerGetExampleTool,
  registerDescribeStructTool,
  registerCompareExecutionsTool,
  registerSessionsTool,
];

export function registerTools(server: McpServer, context: ToolContext): void {
  for (const register of TOOL_REGISTRARS) register(server, context);
  cacheToolList(server);
  trustToolOutput(server, ["get_result"]);
}
