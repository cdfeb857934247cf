/** Reading a file a --local Bot API server names: only regular files inside its directory, never past the cap. */
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DownloadError, readLocalCapped } from '../../../adapters/shared/download.ts';
import { ImageTooLargeError } from '../../../src/engine/errors.ts';

describe('readLocalCapped', () => {
  let base: string;
  let root: string;
  beforeAll(async () => {
    base = await mkdtemp(join(tmpdir(), 'lego-local-read-'));
    root = join(base, 'bot-api');
    await mkdir(join(root, 'photos'), { recursive: true });
    await writeFile(join(root, 'photos', 'a.jpg'), Buffer.alloc(1000, 7));
    await writeFile(join(base, 'secret.txt'), 'not for the bot');
    await symlink(join(base, 'secret.txt'), join(root, 'photos', 'link.jpg'));
  });
  afterAll(() => rm(base, { recursive: true, force: true }));

  it('reads a file inside the directory', async () => {
    const bytes = await readLocalCapped(join(root, 'photos', 'a.jpg'), { root, maxBytes: 5000 });
    expect(bytes.equals(Buffer.alloc(1000, 7))).toBe(true);
  });

  it('refuses paths that leave the directory, by .. or by a link', async () => {
    for (const path of [join(root, '..', 'secret.txt'), join(root, 'photos', 'link.jpg'), '/etc/passwd']) {
      const err = await readLocalCapped(path, { root, maxBytes: 5000 }).catch((e: unknown) => e);
      expect(err, path).toBeInstanceOf(DownloadError);
      expect((err as Error).message, path).toMatch(/lies outside/);
    }
  });

  it('refuses a file over the cap, a directory, a path that is not there, and a FIFO without blocking', async () => {
    await expect(readLocalCapped(join(root, 'photos', 'a.jpg'), { root, maxBytes: 999 })).rejects.toBeInstanceOf(ImageTooLargeError);
    await expect(readLocalCapped(join(root, 'photos', 'a.jpg'), { root, maxBytes: 5000, declaredSize: 9000 })).rejects.toBeInstanceOf(ImageTooLargeError);
    await expect(readLocalCapped(join(root, 'photos'), { root, maxBytes: 5000 })).rejects.toThrow(/not a file/);
    await expect(readLocalCapped(join(root, 'photos', 'gone.jpg'), { root, maxBytes: 5000 })).rejects.toThrow(/not where the chat service said/);
    // A FIFO would block a plain open until someone writes to it.
    execFileSync('mkfifo', [join(root, 'photos', 'pipe.jpg')]);
    await expect(readLocalCapped(join(root, 'photos', 'pipe.jpg'), { root, maxBytes: 5000 })).rejects.toThrow(/not a file/);
  });
});
