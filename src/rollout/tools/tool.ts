/**
 * Tools a model calls during a multi-turn rollout. A tool is a name, a description and a JSON schema of its
 * arguments (the OpenAI function shape chat templates render, as TRL's `tools` and verl's tool schemas), and an
 * async function from arguments to text. Whatever goes wrong inside a call — a throw, bad arguments, a timeout —
 * becomes the text of its response, so the model sees the failure and the run goes on (verl returns tool errors
 * as responses the same way).
 */
import { GrpoError } from '../../errors.ts';

export interface Tool {
  name: string;
  description: string;
  /** JSON schema of the arguments object (OpenAI function `parameters`) */
  parameters: { type: 'object'; properties: Record<string, unknown>; required?: string[] };
  /**
   * the argument that receives a plain-text call's body (`<name>body</name>`); default the first required one
   */
  plainArgument?: string;
  /** the response text; `signal` aborts when the call's time is up */
  run(args: Record<string, unknown>, signal: AbortSignal): Promise<string> | string;
}

/** A call the model made: a tool name and its arguments, or what was wrong with the call's text. */
export interface ToolCall {
  name: string;
  arguments: Record<string, unknown>;
  /** the call could not be read (malformed JSON, no name): answered with this error */
  error?: string;
}

export interface ToolResult {
  name: string;
  content: string;
  ok: boolean;
}

/** A user-defined tool from an async function (TRL's `tools=[fn]`, OpenRLHF's agent functions). */
export function functionTool(spec: Tool): Tool {
  if (!/^[A-Za-z_][\w-]*$/.test(spec.name ?? ''))
    throw new GrpoError(
      'config',
      `tool name ${JSON.stringify(spec.name)} must be letters, digits, '_' or '-' (it is written in the model's text)`,
    );
  if (typeof spec.run !== 'function') throw new GrpoError('config', `tool '${spec.name}' needs a run(args) function`);
  if (spec.parameters?.type !== 'object')
    throw new GrpoError('config', `tool '${spec.name}': parameters must be a JSON schema of type 'object'`);
  const plain = plainArgumentOf(spec);
  if (plain !== undefined && !(plain in spec.parameters.properties))
    throw new GrpoError('config', `tool '${spec.name}': plainArgument '${plain}' is not one of its parameters`);
  return spec;
}

export function plainArgumentOf(tool: Tool): string | undefined {
  return tool.plainArgument ?? tool.parameters.required?.[0] ?? Object.keys(tool.parameters.properties)[0];
}

/** The schema chat templates take as `tools` (Qwen / Hermes function calling). */
export function toolSchema(tool: Tool): Record<string, unknown> {
  return {
    type: 'function',
    function: { name: tool.name, description: tool.description, parameters: tool.parameters },
  };
}

/** Tools by name, refusing duplicates. */
export function toolbox(tools: readonly Tool[]): Map<string, Tool> {
  const byName = new Map<string, Tool>();
  for (const t of tools) {
    functionTool(t);
    if (byName.has(t.name)) throw new GrpoError('config', `two tools are named '${t.name}'; tool names must be unique`);
    byName.set(t.name, t);
  }
  return byName;
}

/** Run one call within `timeoutMs`; failures come back as the response text ("error: …"). */
export async function callTool(tools: Map<string, Tool>, call: ToolCall, timeoutMs: number): Promise<ToolResult> {
  const fail = (content: string): ToolResult => ({ name: call.name, content: `error: ${content}`, ok: false });
  if (call.error) return fail(call.error);
  const tool = tools.get(call.name);
  if (!tool) return fail(`unknown tool '${call.name}'; the tools are ${[...tools.keys()].join(', ')}`);
  const missing = (tool.parameters.required ?? []).filter((k) => call.arguments[k] === undefined);
  if (missing.length)
    return fail(`tool '${call.name}' needs the argument${missing.length > 1 ? 's' : ''} ${missing.join(', ')}`);
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      controller.abort();
      reject(new ToolTimeout());
    }, timeoutMs);
  });
  try {
    const content = await Promise.race([
      Promise.resolve().then(() => tool.run(call.arguments, controller.signal)),
      timeout,
    ]);
    if (typeof content !== 'string') return fail(`tool '${call.name}' returned ${typeof content}, not text`);
    return { name: call.name, content, ok: true };
  } catch (e) {
    if (e instanceof ToolTimeout) return fail(`tool '${call.name}' timed out after ${timeoutMs} ms`);
    return fail((e as Error)?.message ?? String(e));
  } finally {
    clearTimeout(timer);
  }
}

class ToolTimeout extends Error {}
