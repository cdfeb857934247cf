/**
 * SHA-256 of megabytes (pixel buffers, encoded images) away from the event loop.
 * node:crypto's createHash runs in the calling thread: 1–2 ms a 1024×768 image
 * on an idle core, tens of milliseconds on a loaded one, during which no chat
 * is answered. WebCrypto's digest runs the same hash in libuv's thread pool and
 * gives the same bytes.
 */
import { createHash, webcrypto } from 'node:crypto';

/** The SHA-256 of `bytes`, hex: the same string as createHash('sha256').update(bytes).digest('hex'). */
export async function sha256HexOffThread(bytes: Uint8Array): Promise<string> {
  // WebCrypto refuses views of shared memory; those (rare: tests that share pixels with a thread) are hashed here.
  if (bytes.buffer instanceof SharedArrayBuffer) return createHash('sha256').update(bytes).digest('hex');
  return Buffer.from(await webcrypto.subtle.digest('SHA-256', bytes)).toString('hex');
}
