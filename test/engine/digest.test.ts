import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { sha256HexOffThread } from '../../src/engine/digest.ts';
import { hashValue, hashValueOffThread } from '../../src/engine/image-io.ts';
import { makeImage, makeMask } from '../../src/engine/values.ts';

const bytes = Uint8Array.from({ length: 300_000 }, (_, i) => (i * 31) % 251);

describe('sha256HexOffThread', () => {
  it('gives the SHA-256 that createHash gives, for plain and shared memory alike', async () => {
    const expected = createHash('sha256').update(bytes).digest('hex');
    expect(await sha256HexOffThread(bytes)).toBe(expected);
    const shared = new Uint8Array(new SharedArrayBuffer(bytes.length));
    shared.set(bytes);
    expect(await sha256HexOffThread(shared)).toBe(expected);
    // A view into a larger buffer hashes only its own bytes.
    expect(await sha256HexOffThread(bytes.subarray(10, 20))).toBe(createHash('sha256').update(bytes.subarray(10, 20)).digest('hex'));
  });
});

describe('hashValueOffThread', () => {
  it('gives the key hashValue gives, and different keys for different pixels or shapes', async () => {
    const image = makeImage(100, 100, 3, bytes.slice(0, 30_000));
    const fresh = (): typeof image => makeImage(100, 100, 3, bytes.slice(0, 30_000));
    expect(await hashValueOffThread(fresh())).toBe(hashValue(fresh()));
    expect(await hashValueOffThread(image)).toBe(hashValue(fresh()));
    const changed = fresh();
    changed.data[5]! ^= 1;
    expect(await hashValueOffThread(changed)).not.toBe(hashValue(fresh()));
    expect(await hashValueOffThread(makeImage(50, 200, 3, bytes.slice(0, 30_000)))).not.toBe(hashValue(fresh()));
    expect(await hashValueOffThread(makeMask(100, 300, bytes.slice(0, 30_000)))).not.toBe(hashValue(fresh()));
    expect(await hashValueOffThread('light blue')).toBe(hashValue('light blue'));
  });
});
