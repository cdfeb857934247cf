/**
 * Content-addressed image bytes. The interface is what the session manager
 * needs and no more, so an S3-compatible store can replace the disk one.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { sha256HexOffThread } from '../engine/digest.ts';
import { DamagedImageError } from './storage-errors.ts';

export interface BlobStore {
  /** Stores bytes under their SHA-256 (hex) and returns it; storing the same bytes twice is a no-op. */
  put(bytes: Uint8Array): Promise<string>;
  /** The bytes, or undefined when nothing is stored under that hash; throws DamagedImageError when the bytes no longer match it. */
  get(sha256: string): Promise<Buffer | undefined>;
  has(sha256: string): Promise<boolean>;
  /** Removes the bytes; removing what is not there is not an error. */
  delete(sha256: string): Promise<void>;
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

const HASH = /^[0-9a-f]{64}$/;

function checkHash(sha256: string): string {
  // The hash becomes a path; anything else could name a file outside the store.
  if (!HASH.test(sha256)) throw new Error(`not a SHA-256 hex digest: ${JSON.stringify(sha256.slice(0, 80))}`);
  return sha256;
}

/** Files at <root>/ab/abcdef…; written to a temporary name, flushed, then renamed, so a crash never leaves a partial blob under a real hash. */
export class DiskBlobStore implements BlobStore {
  constructor(readonly root: string) {}

  #path(sha256: string): string {
    checkHash(sha256);
    return join(this.root, sha256.slice(0, 2), sha256);
  }

  async put(bytes: Uint8Array): Promise<string> {
    const sha = await sha256HexOffThread(bytes);
    const path = this.#path(sha);
    // Stored already, and whole: a damaged copy is replaced by these good bytes.
    if (await this.has(sha)) {
      const stored = await readFile(path).catch(() => undefined);
      if (stored && (await sha256HexOffThread(stored)) === sha) return sha;
    }
    await mkdir(join(this.root, sha.slice(0, 2)), { recursive: true });
    const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    try {
      await writeFile(tmp, bytes, { flush: true });
      await rename(tmp, path);
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
    return sha;
  }

  /** Checked against the hash on every read: a garbled file is refused, never handed out as the image. */
  async get(sha256: string): Promise<Buffer | undefined> {
    const path = this.#path(sha256);
    let bytes: Buffer;
    try {
      bytes = await readFile(path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
    if ((await sha256HexOffThread(bytes)) !== sha256) throw new DamagedImageError(sha256, path);
    return bytes;
  }

  async has(sha256: string): Promise<boolean> {
    try {
      return (await stat(this.#path(sha256))).isFile();
    } catch {
      return false;
    }
  }

  async delete(sha256: string): Promise<void> {
    try {
      await unlink(this.#path(sha256));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
}

/** For tests and benchmarks that should not touch the disk. */
export class MemoryBlobStore implements BlobStore {
  readonly #blobs = new Map<string, Buffer>();

  async put(bytes: Uint8Array): Promise<string> {
    const sha = sha256Hex(bytes);
    if (!this.#blobs.has(sha)) this.#blobs.set(sha, Buffer.from(bytes));
    return sha;
  }

  async get(sha256: string): Promise<Buffer | undefined> {
    return this.#blobs.get(checkHash(sha256));
  }

  async has(sha256: string): Promise<boolean> {
    return this.#blobs.has(checkHash(sha256));
  }

  async delete(sha256: string): Promise<void> {
    this.#blobs.delete(checkHash(sha256));
  }

  get size(): number {
    return this.#blobs.size;
  }
}
