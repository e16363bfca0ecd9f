#!/usr/bin/env node
// The edgefit command line: a thin shell that turns flags into calls of the library.
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { registerBench } from './commands/bench.js';
import { registerCluster } from './commands/cluster.js';
import { registerCompare } from './commands/compare.js';
import { registerDecompose } from './commands/decompose.js';
import { registerEval } from './commands/eval.js';
import { registerInspect } from './commands/inspect.js';
import { registerPrune } from './commands/prune.js';
import { registerQuantize } from './commands/quantize.js';
import { registerOptimize, registerSlim } from './commands/slim.js';

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

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
  registerInspect(program);
  registerEval(program);
  registerBench(program);
  registerCompare(program);
  registerSlim(program);
  registerOptimize(program);
  registerQuantize(program);
  registerCluster(program);
  registerDecompose(program);
  registerPrune(program);
  for (const cmd of program.commands) cmd.exitOverride().configureOutput(program.configureOutput());
  return program;
}

async function main(): Promise<void> {
  const program = buildProgram();
  try {
    await program.parseAsync(process.argv);
  } catch (e) {
    if (e instanceof CommanderError) {
      process.exitCode = e.exitCode === 0 ? 0 : 2;
      return;
    }
    throw e;
  }
}

await main();
