// The browser app's build: `npm run web` serves web/ with Vite's dev server, `npm run web:build`
// writes static files to web/dist/ (any static host serves them; set the two headers below there to
// get multi-threaded wasm). The worker is bundled as an ES module with the core and onnxruntime-web's
// JS; ORT's .wasm is an asset beside it. The bundled example model and its 1k calibration slice are
// served at ./examples/ (dev) and copied into dist/examples/ (build).

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { defaultClientConditions, defineConfig, type Plugin } from 'vite';

const ROOT = join(import.meta.dirname, '..');
const EXAMPLES = ['fashion-mnist.onnx', 'fashion-mnist-1k.npz'];

/** Cross-origin isolation: SharedArrayBuffer, so onnxruntime-web can run threads. */
export const ISOLATION = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
};

function examples(): Plugin {
  return {
    name: 'edgefit-examples',
    configureServer(server) {
      server.middlewares.use((req, res, next) => {
        const m = /\/examples\/([^/?]+)$/.exec(req.url?.split('?')[0] ?? '');
        if (!m || !EXAMPLES.includes(m[1]!)) return next();
        res.setHeader('content-type', 'application/octet-stream');
        res.end(readFileSync(join(ROOT, 'examples', m[1]!)));
      });
    },
    generateBundle() {
      for (const f of EXAMPLES)
        this.emitFile({
          type: 'asset',
          fileName: `examples/${f}`,
          source: readFileSync(join(ROOT, 'examples', f)),
        });
    },
  };
}

export default defineConfig({
  root: import.meta.dirname,
  base: './',
  publicDir: false,
  logLevel: 'warn',
  plugins: [examples()],
  // onnxruntime-web's build that loads its wasm glue (.mjs) from wasmPaths: its pthread workers then
  // start from that file, not from our worker bundle (with the glue inlined, threads never start)
  resolve: { conditions: ['onnxruntime-web-use-extern-wasm', ...defaultClientConditions] },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    assetsInlineLimit: 0,
    chunkSizeWarningLimit: 4096,
    reportCompressedSize: false,
  },
  worker: { format: 'es' },
  server: { headers: ISOLATION, fs: { allow: [ROOT] } },
  preview: { headers: ISOLATION },
});
