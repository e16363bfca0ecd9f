// The edgefit program: every command, registered from its spec (schema → flags, library call, renderer).
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { benchCommand } from './commands/bench.js';
import { compareCommand } from './commands/compare.js';
import { evalCommand } from './commands/eval.js';
import { finetuneCommand } from './commands/finetune.js';
import { inspectCommand } from './commands/inspect.js';
import { passesCommand } from './commands/passes.js';
import { reportCommand } from './commands/report.js';
import { searchCommand } from './commands/search.js';
import { TRANSFORM_COMMANDS } from './commands/transforms.js';
import { type CommandSpec, registerCommand } from './define.js';

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

export const COMMANDS: CommandSpec<never, unknown>[] = [
  inspectCommand,
  evalCommand,
  benchCommand,
  compareCommand,
  ...TRANSFORM_COMMANDS,
  finetuneCommand,
  searchCommand,
  passesCommand,
  reportCommand,
];

export function buildProgram(): Command {
  const program = new Command('edgefit')
    .description('Make ONNX models fit edge devices: measure, slim, quantize, prune, cluster, decompose.')
    .version(pkg.version)
    .showHelpAfterError(false)
    .exitOverride()
    .configureOutput({
      outputError: (str, write) => {
        const msg = str.replace(/^error: /, '').trim();
        write(`edgefit: error: ${msg} (see edgefit --help)\n`);
      },
    });
  for (const c of COMMANDS) registerCommand(program, c);
  for (const cmd of program.commands) cmd.exitOverride().configureOutput(program.configureOutput());
  return program;
}
