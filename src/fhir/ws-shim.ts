/**
 * @medplum/core 5 reads `WebSocket.CLOSING` at module load, and Node 20 has no global WebSocket
 * (docs/storage.md §1). This shim must be imported before @medplum/core; `medplum.ts` does so.
 * It only defines the constants; constructing one fails loudly, and nothing of ours does.
 */
if (typeof (globalThis as { WebSocket?: unknown }).WebSocket === 'undefined') {
  (globalThis as { WebSocket?: unknown }).WebSocket = class WebSocketUnavailable {
    static CONNECTING = 0;
    static OPEN = 1;
    static CLOSING = 2;
    static CLOSED = 3;
    constructor() {
      throw new Error('WebSocket is not available on this Node.js version');
    }
  };
}
export {};
