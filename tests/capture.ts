/**
 * Runs a CLI command in-process with its stdout (console.log) captured, for tests that read
 * a command's report.
 *
 * @module
 */

/** The command's exit status and what it printed with console.log, lines joined. */
export async function captured(
  fn: (args: string[]) => Promise<number>,
  args: string[],
): Promise<[number, string]> {
  const lines: string[] = [];
  const log = console.log;
  console.log = (s: unknown) => void lines.push(String(s));
  try {
    return [await fn(args), lines.join("\n")];
  } finally {
    console.log = log;
  }
}
