/**
 * A sibling module's URL for a worker thread: `name.ts` when running from source (tsx),
 * `name.js` when running the compiled build (`npm run build`, what the container image runs).
 */
export function siblingModule(base: string, name: string): string {
  return new URL(`./${name}${base.endsWith('.ts') ? '.ts' : '.js'}`, base).href;
}
