// `--shape` specs → concrete input shapes. A spec is NAME=D1,D2,... for a graph input, or SYMBOL=N
// for a symbolic dimension by name (every input dim with that symbol gets N, e.g. batch=8).
// Inputs not named keep their declared dims (symbols resolved by SYMBOL specs, else left to the
// consumer, which counts them as 1).

import { feedInputs } from '../data/synthetic.js';
import { EdgefitError } from '../errors.js';
import type { Model } from '../ir/graph.js';

const SPEC = /^([^=\s]+)=(\d+(?:,\d+)*)$/;

export function resolveShapes(model: Model, specs: readonly string[]): Record<string, number[]> {
  const inputs = feedInputs(model);
  const byName: Record<string, number[]> = {};
  const symbols: Record<string, number> = {};
  for (const raw of specs) {
    const spec = raw.trim();
    const m = SPEC.exec(spec);
    if (!m)
      throw new EdgefitError(
        'BAD_ARGUMENT',
        `--shape ${JSON.stringify(raw)} is not NAME=D1,D2,... or SYMBOL=N`,
        'for example --shape input=1,3,224,224 or --shape batch=8',
      );
    const [name, dims] = [m[1]!, m[2]!.split(',').map(Number)];
    if (dims.some((d) => d < 1 || d > 2 ** 31 - 1))
      throw new EdgefitError('BAD_ARGUMENT', `--shape ${spec}: dims must be from 1 to 2^31-1`);
    if (inputs.some((v) => v.name === name)) byName[name] = dims;
    else if (dims.length === 1 && inputs.some((v) => v.type?.shape?.some((d) => d === name)))
      symbols[name] = dims[0]!;
    else
      throw new EdgefitError(
        'BAD_ARGUMENT',
        `--shape ${spec}: the model has no input or symbolic dimension named ${name}`,
        `inputs: ${inputs.map((v) => `${v.name}[${(v.type?.shape ?? []).map((d) => d ?? '?').join(',')}]`).join(', ')}`,
      );
  }
  if (Object.keys(symbols).length)
    for (const v of inputs) {
      if (byName[v.name] || !v.type?.shape) continue;
      const shape = v.type.shape;
      if (!shape.some((d) => typeof d === 'string' && symbols[d] !== undefined)) continue;
      // dims still symbolic after substitution become 1, as for any unnamed symbolic dim
      byName[v.name] = shape.map((d) => (typeof d === 'number' ? d : (symbols[d ?? ''] ?? 1)));
    }
  return byName;
}
