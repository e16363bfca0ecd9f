// Vite's asset imports: `X?url` resolves to the URL the file is served at (the ORT .wasm).
declare module '*?url' {
  const url: string;
  export default url;
}
