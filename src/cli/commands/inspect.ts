// edgefit inspect MODEL (placeholder until analysis lands)
import type { Command } from 'commander';
export function registerInspect(_program: Command): void {}
