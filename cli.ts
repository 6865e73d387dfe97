/**
 * `pvreplay` command-line entry point: dispatches to one module per subcommand in `cli/`.
 *
 * Run with `deno task pvreplay <command> [options]`; every command accepts `--help`.
 *
 * @module
 */

import { EXIT_SUCCESS, EXIT_USAGE } from "./core/exit_status.ts";

type Command = {
  summary: string;
  load: () => Promise<(args: string[]) => Promise<number>>;
};

const COMMANDS: Record<string, Command> = {
  run: {
    summary: "run a guest kernel or firmware image on the emulated PC",
    load: async () => (await import("./cli/run.ts")).runCommand,
  },
  record: {
    summary: "run a guest under a backend and record every hypercall and trap to a trace",
    load: async () => (await import("./cli/record.ts")).recordCommand,
  },
  replay: {
    summary: "replay a trace on its backend (determinism check) or against another backend",
    load: async () => (await import("./cli/replay.ts")).replayCommand,
  },
  pack: {
    summary: "bundle a trace with the guest image it needs, to replay it anywhere (as rr pack)",
    load: async () => (await import("./cli/pack.ts")).packCommand,
  },
  diff: {
    summary: "align two traces on canonical operations and classify every divergence",
    load: async () => (await import("./cli/diff.ts")).diffCommand,
  },
  inspect: {
    summary: "dump a trace's events or per-call/per-trap statistics",
    load: async () => (await import("./cli/inspect.ts")).inspectCommand,
  },
  matrix: {
    summary: "run guest x backend x version and print the compatibility matrix",
    load: async () => (await import("./cli/matrix.ts")).matrixCommand,
  },
  demo: {
    summary: "record the bundled guest's scenarios on every backend and summarise divergences",
    load: async () => (await import("./cli/demo.ts")).demoCommand,
  },
  bless: {
    summary: "re-record the reference traces in traces/reference/ after an intended change",
    load: async () => (await import("./cli/bless.ts")).blessCommand,
  },
};

function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((c) => c.length));
  const lines = Object.entries(COMMANDS).map(([name, c]) =>
    `  ${name.padEnd(width)}  ${c.summary}`
  );
  return [
    "usage: pvreplay <command> [options]",
    "",
    "commands:",
    ...lines,
    "",
    "Run 'pvreplay <command> --help' for a command's options.",
  ].join("\n");
}

/** Runs the CLI with `argv` (without the program name); returns the exit status. */
export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    console.log(usage());
    return name === undefined ? EXIT_USAGE : 0;
  }
  const command = COMMANDS[name];
  if (!command) {
    console.error(`pvreplay: unknown command '${name}'\n\n${usage()}`);
    return EXIT_USAGE;
  }
  const run = await command.load();
  try {
    return await run(rest);
  } catch (e) {
    // The reader of stdout went away (`pvreplay inspect big.pvt | head -1`): the output it
    // wanted is written, so end quietly with success, as ripgrep does. Not 141 (128 + SIGPIPE):
    // odd statuses are the guest's isa-debug-exit values (core/exit_status.ts).
    if (e instanceof Deno.errors.BrokenPipe) return EXIT_SUCCESS;
    throw e;
  }
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
