// Regenerates src/onnx/gen/onnx_pb.ts from proto/onnx.proto3 with buf + protoc-gen-es (no protoc needed).
// buf only reads files ending in .proto, so the schema is copied to a temporary module first.
// Run: npm run gen:proto
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const bin = join(root, 'node_modules', '.bin');
const work = mkdtempSync(join(tmpdir(), 'edgefit-proto-'));
try {
  copyFileSync(join(root, 'proto', 'onnx.proto3'), join(work, 'onnx.proto'));
  writeFileSync(join(work, 'buf.yaml'), 'version: v2\n');
  const out = join(root, 'src', 'onnx', 'gen');
  writeFileSync(
    join(work, 'buf.gen.yaml'),
    `version: v2\nplugins:\n  - local: protoc-gen-es\n    out: ${out}\n    opt: [target=ts, import_extension=js]\n`,
  );
  execFileSync(join(bin, 'buf'), ['generate'], {
    cwd: work,
    stdio: 'inherit',
    env: { ...process.env, PATH: `${bin}:${process.env.PATH}` },
  });
  console.log('generated src/onnx/gen/onnx_pb.ts');
} finally {
  rmSync(work, { recursive: true, force: true });
}
