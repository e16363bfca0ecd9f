// Bad input never crashes, hangs or allocates absurd sizes: exit 2 and one line `edgefit: error: ...`.

import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { create, toBinary } from '@bufbuild/protobuf';
import { describe, expect, it } from 'vitest';
import {
  ModelProtoSchema,
  NodeProtoSchema,
  TensorProto_DataLocation,
  TensorProtoSchema,
  ValueInfoProtoSchema,
} from '../../src/onnx/gen/onnx_pb.js';
import { runCli } from '../helpers/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'edgefit-bad-'));
const EXAMPLE = readFileSync(join(import.meta.dirname, '..', '..', 'examples', 'fashion-mnist.onnx'));

function write(name: string, bytes: Uint8Array | string): string {
  const p = join(dir, name);
  writeFileSync(p, bytes);
  return p;
}

const f32 = (name: string) =>
  create(ValueInfoProtoSchema, {
    name,
    type: {
      value: {
        case: 'tensorType',
        value: { elemType: 1, shape: { dim: [{ value: { case: 'dimValue', value: 4n } }] } },
      },
    },
  });

/** x -> Relu -> y, with extra initializers / nodes spliced in */
function model(parts: {
  initializer?: Parameters<typeof create<typeof TensorProtoSchema>>[1][];
  nodes?: { op: string; inputs: string[]; outputs: string[] }[];
}): Uint8Array {
  return toBinary(
    ModelProtoSchema,
    create(ModelProtoSchema, {
      irVersion: 8n,
      opsetImport: [{ domain: '', version: 17n }],
      graph: {
        name: 'g',
        input: [f32('x')],
        output: [f32('y')],
        initializer: (parts.initializer ?? []).map((t) => create(TensorProtoSchema, t)),
        node: (parts.nodes ?? [{ op: 'Relu', inputs: ['x'], outputs: ['y'] }]).map((n) =>
          create(NodeProtoSchema, { opType: n.op, input: n.inputs, output: n.outputs }),
        ),
      },
    }),
  );
}

function expectCleanError(file: string, pattern: RegExp): void {
  const r = runCli(['inspect', file]);
  expect(r.code, r.stderr).toBe(2);
  const lines = r.stderr.trim().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^edgefit: error: /);
  expect(lines[0]).toMatch(pattern);
  expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
  expect(r.stdout).toBe('');
}

describe('bad model input', () => {
  it('empty file', () => expectCleanError(write('empty.onnx', new Uint8Array(0)), /empty/));

  it('random bytes', () => {
    let seed = 7;
    const bytes = Uint8Array.from({ length: 4096 }, () => {
      seed = (seed * 1103515245 + 12345) >>> 0;
      return seed >>> 24;
    });
    expectCleanError(write('random.onnx', bytes), /not a valid ONNX model/);
  });

  it('a truncated model', () =>
    expectCleanError(
      write('trunc.onnx', EXAMPLE.subarray(0, EXAMPLE.length >> 1)),
      /not a valid ONNX model/,
    ));

  it('a text file', () =>
    expectCleanError(write('text.onnx', 'this is not a model\njust some text\n'), /not a valid ONNX model/));

  it('a missing file', () => expectCleanError(join(dir, 'nope.onnx'), /no such file/));

  it('negative dims', () =>
    expectCleanError(
      write(
        'neg.onnx',
        model({ initializer: [{ name: 'w', dataType: 1, dims: [-4n], rawData: new Uint8Array(16) }] }),
      ),
      /invalid dimension -4/,
    ));

  it('absurd dims: 2^40 elements declared with 16 bytes of data', () =>
    expectCleanError(
      write(
        'absurd.onnx',
        model({
          initializer: [
            { name: 'w', dataType: 1, dims: [1n << 20n, 1n << 20n], rawData: new Uint8Array(16) },
          ],
        }),
      ),
      /tensor w declares FLOAT\[1048576,1048576\].*holds 16 bytes/,
    ));

  it('a length past the end of the buffer', () => {
    // field 7 (graph), length-delimited, claims 1 GB but the file ends right after
    const bytes = new Uint8Array([0x08, 0x08, 0x3a, 0x80, 0x80, 0x80, 0x80, 0x04, 0x01, 0x02]);
    expectCleanError(write('pastend.onnx', bytes), /not a valid ONNX model/);
  });

  const external = (location: string) =>
    model({
      initializer: [
        {
          name: 'w',
          dataType: 1,
          dims: [4n],
          dataLocation: TensorProto_DataLocation.EXTERNAL,
          externalData: [
            { key: 'location', value: location },
            { key: 'offset', value: '0' },
            { key: 'length', value: '16' },
          ],
        },
      ],
    });

  it('a missing external data file', () =>
    expectCleanError(
      write('ext-missing.onnx', external('weights.bin')),
      /external data file "weights.bin" is missing/,
    ));
  it('an external location with ..', () =>
    expectCleanError(
      write('ext-dotdot.onnx', external('../weights.bin')),
      /"..\/weights.bin" is not a relative path inside the model's folder/,
    ));
  it('an absolute external location', () =>
    expectCleanError(
      write('ext-abs.onnx', external('/etc/passwd')),
      /"\/etc\/passwd" is not a relative path/,
    ));

  it('a graph with a cycle', () =>
    expectCleanError(
      write(
        'cycle.onnx',
        model({
          nodes: [
            { op: 'Add', inputs: ['x', 'b'], outputs: ['a'] },
            { op: 'Relu', inputs: ['a'], outputs: ['b'] },
            { op: 'Relu', inputs: ['a'], outputs: ['y'] },
          ],
        }),
      ),
      /cycle/,
    ));

  it('a node input defined nowhere', () =>
    expectCleanError(
      write('undef.onnx', model({ nodes: [{ op: 'Add', inputs: ['x', 'ghost'], outputs: ['y'] }] })),
      /reads "ghost", which no node, input or initializer/,
    ));
});
