/**
 * Web Worker entry of the demo's diff phase (demo_diff.ts): one diff per message.
 *
 * @module
 */

import { demoDiff, type DemoDiffJob } from "./demo_diff.ts";

const scope = self as unknown as {
  onmessage: ((e: MessageEvent<DemoDiffJob>) => void) | null;
  postMessage(m: unknown): void;
};
scope.onmessage = (e) => {
  try {
    scope.postMessage({ diff: demoDiff(e.data) });
  } catch (err) {
    scope.postMessage({ error: (err as Error).message });
  }
};
