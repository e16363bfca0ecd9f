// The messages between the page (main.ts) and the worker (worker.ts). The page only draws; the
// worker holds the model and the data and runs everything: decode, inspect, the transform commands,
// the search, fine-tuning, and the measurements with onnxruntime-web. Files travel as Blobs (a
// reference, no copy on the main thread); results come back as transferred ArrayBuffers.

/** The commands the page offers, each with its option schema from the core. */
export const COMMANDS = ['quantize', 'prune', 'cluster', 'decompose', 'slim', 'search', 'finetune'] as const;
export type CommandName = (typeof COMMANDS)[number];

export type ToWorker =
  | { type: 'model'; file: Blob; name: string; budget: string; extra: { file: Blob; name: string }[] }
  | { type: 'data'; file: Blob; name: string }
  | { type: 'synthetic'; samples: number }
  | { type: 'images'; files: { file: Blob; path: string }[]; mean: number[]; std: number[] }
  | { type: 'run'; command: CommandName; options: Record<string, unknown> };

/** A JSON Schema object as z.toJSONSchema writes it (only the parts the forms read). */
export interface JsonSchema {
  type?: string | string[];
  enum?: (string | number)[];
  default?: unknown;
  description?: string;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  items?: JsonSchema;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  anyOf?: JsonSchema[];
}

export interface Measured {
  /** top-1 on the page's data (labels), before and after */
  top1?: { before: number; after: number };
  /** agreement of the result with the original on the page's data or synthetic inputs */
  agreement?: number;
  /** batch-1 median latency (ms) in this browser, onnxruntime-web */
  latencyMs?: { before: number; after: number };
  threads: number;
}

export type FromWorker =
  | {
      type: 'hello';
      schemas: Record<CommandName, JsonSchema>;
      summaries: Record<CommandName, string>;
      threads: number;
      isolated: boolean;
    }
  | { type: 'inspected'; name: string; report: unknown; ms: number }
  | { type: 'data'; name: string; samples: number; labels: boolean; inputs: string[] }
  | { type: 'progress'; label: string; done: number; total: number; note?: string | undefined }
  | { type: 'log'; level: 'info' | 'warn'; message: string }
  | {
      type: 'result';
      command: CommandName;
      report: unknown;
      model: ArrayBuffer;
      fileName: string;
      recipe: string;
      /** the HTML report page (search, transforms), shown as it is */
      html: string;
      measured: Measured;
    }
  | { type: 'error'; code: string; message: string; fix?: string | undefined };
