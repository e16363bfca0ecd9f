// User-caused errors: typed, carry the fix, and become one line in the CLI
// (`edgefit: error: <what> (<fix>)`, exit code 2). Bugs stay plain Errors with stack traces.

export type EdgefitErrorCode =
  | 'BAD_MODEL' // the bytes are not a valid ONNX model
  | 'BAD_GRAPH' // the model decodes but its graph is invalid (cycle, undefined input, ...)
  | 'EXTERNAL_DATA' // external data missing, unsafe location, out of range
  | 'BAD_ARGUMENT' // a flag or option value is wrong
  | 'BAD_DATA' // a dataset does not fit the model or is corrupt
  | 'IO' // a file cannot be read or written
  | 'UNSUPPORTED'; // valid input that edgefit cannot handle (yet)

export class EdgefitError extends Error {
  readonly code: EdgefitErrorCode;
  readonly fix: string | undefined;

  constructor(code: EdgefitErrorCode, message: string, fix?: string) {
    super(fix ? `${message} (${fix})` : message);
    this.name = 'EdgefitError';
    this.code = code;
    this.fix = fix;
  }
}

export function isEdgefitError(e: unknown): e is EdgefitError {
  return e instanceof EdgefitError;
}

/**
 * An error's message as one line: every line joined (ORT puts the useful part, e.g. "index: 0 Got: 8
 * Expected: 1" after "for the following indices", on the next lines) and ORT's status prefix dropped.
 */
export function errorLine(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  return msg
    .replace(/\[ONNXRuntimeError\] : \d+ : [A-Z_]+ : /g, '')
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .join(' ');
}
