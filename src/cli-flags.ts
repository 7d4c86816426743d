/**
 * The command-line flags of `npm start` and `npm run download`: --help, and flags that stand for an
 * environment variable (`--port 9000` or `--port=9000` sets PORT). Anything else is refused, so a
 * mistyped flag is not silently ignored.
 */
export class FlagError extends Error {
  override name = 'FlagError';
}

/** Sets the variables the flags stand for in `env`; returns whether --help was asked for. */
export function applyFlags(args: string[], variables: Record<string, string>, command: string, env: NodeJS.ProcessEnv = process.env): { help: boolean } {
  const known = Object.keys(variables).join(', ');
  const refuse = (why: string) => new FlagError(`${why}. \`${command} -- --help\` says what it takes (flags: --help, ${known}).`);
  let help = false;
  for (let index = 0; index < args.length; index++) {
    const arg = args[index]!;
    if (arg === '--help' || arg === '-h') {
      help = true;
      continue;
    }
    const [flag, inline] = arg.startsWith('--') && arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    const variable = variables[flag!];
    if (!variable) throw refuse(arg.startsWith('-') ? `unknown option '${flag}'` : `unexpected argument '${arg}'`);
    const value = inline ?? args[++index];
    if (value === undefined || value === '') throw refuse(`${flag} needs a value`);
    env[variable] = value;
  }
  return { help };
}
