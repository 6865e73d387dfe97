/**
 * Alignment half of the trace diff: patience anchors (unique keys, longest increasing
 * subsequence) and Myers' O(ND) diff between them, over the runs buffered in a window.
 * Classification is in diff_classify.ts.
 *
 * @module
 */

import { keyOf, type Kinds } from "./diff_classify.ts";
import type { RunLookahead } from "./diff_runs.ts";

/**
 * Aligns the first `na`/`nb` buffered runs: first on exact signatures (so that among several
 * runs with the same key the identical ones pair up), then, inside each gap left, on keys
 * alone (same operation with different arguments, result or state).
 */
export function alignWindow(
  kinds: Kinds,
  A: RunLookahead,
  na: number,
  B: RunLookahead,
  nb: number,
  pa: number[],
  pb: number[],
): void {
  const ids = new Map<string, number>();
  const ids2 = new Map<string, number>();
  const sa = new Int32Array(na),
    sb = new Int32Array(nb),
    ka = new Int32Array(na),
    kb = new Int32Array(nb);
  const fill = (L: RunLookahead, n: number, sig: Int32Array, key: Int32Array) => {
    for (let i = 0; i < n; i++) {
      const e = L.peek(i)!.first;
      const s = kinds.signature(e), k = keyOf(e);
      let v = ids.get(s);
      if (v === undefined) ids.set(s, v = ids.size);
      sig[i] = v;
      let u = ids2.get(k);
      if (u === undefined) ids2.set(k, u = ids2.size);
      key[i] = u;
    }
  };
  fill(A, na, sa, ka);
  fill(B, nb, sb, kb);
  const xa: number[] = [], xb: number[] = [];
  patience(sa, 0, na, sb, 0, nb, xa, xb);
  let i = 0, j = 0;
  for (let p = 0; p <= xa.length; p++) {
    const ea = p < xa.length ? xa[p] : na, eb = p < xb.length ? xb[p] : nb;
    if (i < ea && j < eb) patience(ka, i, ea, kb, j, eb, pa, pb);
    if (p < xa.length) {
      pa.push(ea);
      pb.push(eb);
    }
    i = ea + 1;
    j = eb + 1;
  }
}

/** Largest edit distance Myers' algorithm explores in one gap (memory ~ D^2 integers). */
const MAX_MYERS_D = 1024;

/**
 * Longest common subsequence of a[aLo..aHi) and b[bLo..bHi) by Myers' O(ND) algorithm; pushes
 * matched index pairs (in order) to `pa`/`pb`. Gives up (no pairs) beyond {@link MAX_MYERS_D}.
 */
function myers(
  a: Int32Array,
  aLo: number,
  aHi: number,
  b: Int32Array,
  bLo: number,
  bHi: number,
  pa: number[],
  pb: number[],
): void {
  const n = aHi - aLo, m = bHi - bLo, max = n + m;
  const off = max + 1;
  const v = new Int32Array(2 * max + 3);
  const trace: Int32Array[] = [];
  for (let d = 0; d <= Math.min(max, MAX_MYERS_D); d++) {
    trace.push(v.slice(off - d - 1, off + d + 2));
    for (let k = -d; k <= d; k += 2) {
      let x = k === -d || (k !== d && v[off + k - 1] < v[off + k + 1])
        ? v[off + k + 1]
        : v[off + k - 1] + 1;
      let y = x - k;
      while (x < n && y < m && a[aLo + x] === b[bLo + y]) {
        x++;
        y++;
      }
      v[off + k] = x;
      if (x >= n && y >= m) {
        const xs: number[] = [], ys: number[] = [];
        let cx = n, cy = m;
        for (let e = d; e >= 0; e--) {
          const t = trace[e]; // v before step e, indexed from k = -e-1
          const g = (kk: number) => t[kk + e + 1];
          const kk = cx - cy;
          const pk = kk === -e || (kk !== e && g(kk - 1) < g(kk + 1)) ? kk + 1 : kk - 1;
          const px = e === 0 ? 0 : g(pk), py = e === 0 ? 0 : px - pk;
          while (cx > px && cy > py) {
            xs.push(cx - 1);
            ys.push(cy - 1);
            cx--;
            cy--;
          }
          cx = px;
          cy = py;
        }
        for (let i = xs.length - 1; i >= 0; i--) {
          pa.push(aLo + xs[i]);
          pb.push(bLo + ys[i]);
        }
        return;
      }
    }
  }
}

/** Patience alignment of key-id arrays; matched pairs in order in `pa`/`pb`. */
function patience(
  a: Int32Array,
  aLo: number,
  aHi: number,
  b: Int32Array,
  bLo: number,
  bHi: number,
  pa: number[],
  pb: number[],
): void {
  while (aLo < aHi && bLo < bHi && a[aLo] === b[bLo]) {
    pa.push(aLo++);
    pb.push(bLo++);
  }
  let suffix = 0;
  while (aLo < aHi - suffix && bLo < bHi - suffix && a[aHi - 1 - suffix] === b[bHi - 1 - suffix]) {
    suffix++;
  }
  aHi -= suffix;
  bHi -= suffix;
  if (aLo < aHi && bLo < bHi) {
    // Keys occurring exactly once in each side: candidate anchors.
    const ca = new Map<number, number>(), cb = new Map<number, number>();
    for (let i = aLo; i < aHi; i++) ca.set(a[i], ca.has(a[i]) ? -1 : i);
    for (let j = bLo; j < bHi; j++) cb.set(b[j], cb.has(b[j]) ? -1 : j);
    const ai: number[] = [], bj: number[] = [];
    for (let i = aLo; i < aHi; i++) {
      const j = cb.get(a[i]);
      if (ca.get(a[i]) === i && j !== undefined && j >= 0) {
        ai.push(i);
        bj.push(j);
      }
    }
    if (ai.length === 0) {
      myers(a, aLo, aHi, b, bLo, bHi, pa, pb);
    } else {
      const lis = longestIncreasing(bj);
      let pi = aLo, pj = bLo;
      for (const idx of lis) {
        patience(a, pi, ai[idx], b, pj, bj[idx], pa, pb);
        pa.push(ai[idx]);
        pb.push(bj[idx]);
        pi = ai[idx] + 1;
        pj = bj[idx] + 1;
      }
      patience(a, pi, aHi, b, pj, bHi, pa, pb);
    }
  }
  for (let s = 0; s < suffix; s++) {
    pa.push(aHi + s);
    pb.push(bHi + s);
  }
}

/** Indices of a longest strictly increasing subsequence (patience sorting). */
function longestIncreasing(xs: number[]): number[] {
  const tails: number[] = [], prev = new Int32Array(xs.length).fill(-1);
  for (let i = 0; i < xs.length; i++) {
    let lo = 0, hi = tails.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (xs[tails[mid]] < xs[i]) lo = mid + 1;
      else hi = mid;
    }
    if (lo > 0) prev[i] = tails[lo - 1];
    tails[lo] = i;
  }
  const out: number[] = [];
  for (let i = tails.length ? tails[tails.length - 1] : -1; i >= 0; i = prev[i]) out.push(i);
  return out.reverse();
}
