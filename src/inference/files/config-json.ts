import { readFile } from 'node:fs/promises';

/** A model's JSON config file, as read. */
export type Json = Record<string, unknown>;

/** A model's JSON config, or undefined when the file is not there; a file that is not JSON is an error naming it. */
export async function readJson(path: string): Promise<Json | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    return undefined;
  }
  try {
    return JSON.parse(text) as Json;
  } catch (error) {
    throw new Error(`${path} is not valid JSON: ${(error as Error).message}`);
  }
}

/**
 * A config's count (a width, a length limit), or undefined when it is not a whole number above 0
 * and below 10^7: tokenizers write "no limit" as 10^30.
 */
export const positive = (value: unknown): number | undefined =>
  typeof value === 'number' && Number.isInteger(value) && value > 0 && value < 1e7 ? value : undefined;
