// tack/getopt.ts: the option syntax of tackpy 0.9.7 (Python getopt short options, Command.py):
// `-k KEY` or `-kKEY`, flags that group (`-vx`), `--` ends options; plus long options `--name V`
// and `--name=V` for tlsify's own additions. Stricter than getopt: options may follow operands,
// and an unknown or repeated option is an error rather than ignored or overridden. Pure.

export interface OptionSpec {
  /** Short options that take a value, e.g. 'kcopmgen'. */
  readonly values: string;
  /** Short options that take none, e.g. 'vx'. */
  readonly flags: string;
  /** Long options, all taking a value, e.g. ['pass']. */
  readonly long: readonly string[];
}

export interface ParsedOptions {
  /** '-k' → value; a flag → ''. Long options keep their '--'. */
  readonly options: ReadonlyMap<string, string>;
  readonly operands: readonly string[];
}

/** Thrown with a message that says expected / got; the caller makes it a usage error. */
export class OptionError extends Error {
  override name = 'OptionError';
}

export function describeOptions(spec: OptionSpec): string {
  return [...spec.values, ...spec.flags].map((c) => `-${c}`).concat(spec.long.map((l) => `--${l}`)).join(' ');
}

export function getopt(args: readonly string[], spec: OptionSpec): ParsedOptions {
  const options = new Map<string, string>();
  const operands: string[] = [];
  const set = (name: string, value: string): void => {
    if (options.has(name)) throw new OptionError(`expected ${name} once, got it twice`);
    options.set(name, value);
  };
  const unknown = (got: string): never => {
    throw new OptionError(`expected one of the options ${describeOptions(spec)}, got '${got}'`);
  };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '--') {
      operands.push(...args.slice(i + 1));
      break;
    }
    if (arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      const name = eq < 0 ? arg.slice(2) : arg.slice(2, eq);
      if (!spec.long.includes(name)) unknown(eq < 0 ? arg : arg.slice(0, eq));
      const value = eq < 0 ? args[++i] : arg.slice(eq + 1);
      if (value === undefined) throw new OptionError(`--${name}: expected a value, got the end of the arguments`);
      set(`--${name}`, value);
      continue;
    }
    if (!arg.startsWith('-') || arg === '-') {
      operands.push(arg);
      continue;
    }
    for (let j = 1; j < arg.length; j++) {
      const c = arg[j]!;
      if (spec.values.includes(c)) {
        const value = j + 1 < arg.length ? arg.slice(j + 1) : args[++i];
        if (value === undefined) throw new OptionError(`-${c}: expected a value, got the end of the arguments`);
        set(`-${c}`, value);
        break;
      }
      if (!spec.flags.includes(c)) unknown(`-${c}`);
      set(`-${c}`, '');
    }
  }
  return { options, operands };
}
