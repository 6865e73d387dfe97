/**
 * Proleptic Gregorian calendar arithmetic on days since 1970-01-01 (H. Hinnant's
 * `days_from_civil` / `civil_from_days`, exact for every date representable as a double). Used by
 * the RTC to present the virtual clock as a date and by backends to decode the date a guest read.
 *
 * @module
 */

/**
 * Days since 1970-01-01 of a calendar date (month 1-12, day 1-31).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { daysFromCivil } from "./civil_date.ts";
 * assert.equal(daysFromCivil(2007, 3, 9), 13581);
 * ```
 */
export function daysFromCivil(y: number, m: number, d: number): number {
  y -= m <= 2 ? 1 : 0;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

/**
 * Calendar date `[year, month, day]` from days since 1970-01-01.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { civilFromDays } from "./civil_date.ts";
 * assert.deepEqual(civilFromDays(13581), [2007, 3, 9]);
 * ```
 */
export function civilFromDays(z: number): [number, number, number] {
  z += 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor(
    (doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365,
  );
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const d = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const m = mp < 10 ? mp + 3 : mp - 9;
  return [era * 400 + yoe + (m <= 2 ? 1 : 0), m, d];
}
