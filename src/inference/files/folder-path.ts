import { posix, win32 } from 'node:path';

/**
 * Whether a path a model's files give (a module's folder, an external-data file) could reach outside
 * the folder it is relative to: absolute (on any platform), or with a `..` part (either separator).
 */
export function leavesFolder(path: string): boolean {
  return posix.isAbsolute(path) || win32.isAbsolute(path) || path.split(/[\\/]/).includes('..') || path.includes('\0');
}
