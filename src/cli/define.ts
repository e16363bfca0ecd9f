// One command of the CLI: its schema gives the flags, the library function does the work, a renderer
// prints the result (or `--json` prints it as it is). Warnings go to stderr as they happen, progress
// bars only on a terminal.

import type { Command } from 'commander';
import type { z } from 'zod';
import { type Hooks, parseOptions } from '../node.js';
import { addSchemaFlags, typedFlags } from './flags.js';
import { progressSink } from './progress.js';
import { printJson, runCommand } from './shell.js';

export interface CommandSpec<S extends z.ZodObject, R> {
  name: string;
  description: string;
  /** positional arguments, e.g. ['<model>'] */
  args: { name: string; description: string }[];
  schema: S;
  run(args: string[], options: z.input<S>, hooks: Hooks): Promise<R>;
  /** readable text for stdout; JSON is printed when --json is given */
  render(result: R, options: z.output<S>): string;
  /** the process exit code for a result (inspect --budget: 3 when it does not fit) */
  exitCode?(result: R): number;
}

/** A spec from its parts, in the order a reader wants them. */
export function spec<S extends z.ZodObject, R>(
  name: string,
  description: string,
  args: readonly (readonly [string, string])[],
  schema: S,
  run: CommandSpec<S, R>['run'],
  render: CommandSpec<S, R>['render'],
  exitCode?: CommandSpec<S, R>['exitCode'],
): CommandSpec<never, unknown> {
  const s: CommandSpec<S, R> = {
    name,
    description,
    args: args.map(([n, d]) => ({ name: n, description: d })),
    schema,
    run,
    render,
    ...(exitCode ? { exitCode } : {}),
  };
  return s as unknown as CommandSpec<never, unknown>;
}

/** A command over one model path; its description is its option schema's (`.describe()`). */
export function modelCommand<S extends z.ZodObject, R>(
  name: string,
  schema: S,
  fn: (model: string, options: z.input<S>, hooks: Hooks) => Promise<R>,
  render: CommandSpec<S, R>['render'],
  exitCode?: CommandSpec<S, R>['exitCode'],
): CommandSpec<never, unknown> {
  const run: CommandSpec<S, R>['run'] = ([model], o, hooks) => fn(model!, o, hooks);
  return spec(name, schema.description ?? name, [['<model>', 'ONNX model']], schema, run, render, exitCode);
}

export const stderrHooks: Hooks = {
  log: { info() {}, warn: (m) => process.stderr.write(`edgefit: warning: ${m}\n`) },
  progress: progressSink(),
};

export function registerCommand<S extends z.ZodObject, R>(program: Command, spec: CommandSpec<S, R>): void {
  const cmd = program.command(spec.name).description(spec.description);
  for (const a of spec.args) cmd.argument(a.name, a.description);
  addSchemaFlags(cmd, spec.schema);
  cmd.action((...params: unknown[]) =>
    runCommand(async () => {
      const args = params.slice(0, spec.args.length) as string[];
      const raw = params[spec.args.length] as Record<string, unknown>;
      const options = typedFlags(spec.schema, raw) as z.input<S>;
      const parsed = parseOptions(spec.schema, options, spec.name);
      const result = await spec.run(args, options, stderrHooks);
      if ((parsed as { json?: boolean }).json) printJson(result);
      else process.stdout.write(spec.render(result, parsed));
      const code = spec.exitCode?.(result) ?? 0;
      if (code) process.exitCode = code;
    }),
  );
}
