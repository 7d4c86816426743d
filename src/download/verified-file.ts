import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, rename, rm, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { PlannedFile } from './plan.ts';

export class IntegrityError extends Error {
  override name = 'IntegrityError';
}

function hasherFor(planned: PlannedFile): Hash | undefined {
  if (!planned.check) return undefined;
  if (planned.check.algorithm === 'sha256') return createHash('sha256');
  // Git hashes a blob as sha1("blob <size>\0" + content).
  return createHash('sha1').update(`blob ${planned.size}\0`);
}

/** Whether `target` already holds exactly the planned file (size and, where the Hub gives one, hash). */
export async function isComplete(target: string, planned: PlannedFile): Promise<boolean> {
  const info = await stat(target).catch(() => undefined);
  if (!info?.isFile() || info.size !== planned.size) return false;
  const hasher = hasherFor(planned);
  if (!hasher) return true;
  for await (const chunk of createReadStream(target)) hasher.update(chunk as Buffer);
  return hasher.digest('hex') === planned.check!.digest;
}

/**
 * Streams a file to `<target>.partial`, checks its size and hash, then renames
 * it into place, so `target` is only ever absent or complete. A body longer than
 * the listed size is cut off as soon as it is: nothing past that size is written.
 */
export async function writeVerified(
  target: string,
  planned: PlannedFile,
  body: ReadableStream<Uint8Array>,
  onBytes: (bytes: number) => void,
): Promise<void> {
  const partial = `${target}.partial`;
  await mkdir(dirname(target), { recursive: true });
  const file = await open(partial, 'w');
  const hasher = hasherFor(planned);
  const reader = body.getReader();
  let received = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (received + value.byteLength > planned.size) throw new IntegrityError(`the Hub sent more than the listed ${planned.size} bytes`);
      await file.write(value);
      hasher?.update(value);
      received += value.byteLength;
      onBytes(value.byteLength);
    }
    await file.close();
    if (received !== planned.size) throw new IntegrityError(`received ${received} bytes, expected ${planned.size}`);
    const digest = hasher?.digest('hex');
    if (digest !== undefined && digest !== planned.check!.digest) {
      throw new IntegrityError(`${planned.check!.algorithm} is ${digest}, the Hub says ${planned.check!.digest}`);
    }
    await rename(partial, target);
  } catch (error) {
    await reader.cancel().catch(() => undefined);
    await file.close().catch(() => undefined);
    await rm(partial, { force: true });
    throw error;
  }
}
