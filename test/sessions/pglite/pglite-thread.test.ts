/**
 * PGlite in its own thread answers as PGlite in this thread did (rows, errors
 * with their SQLSTATE, transactions), while this thread's event loop runs on.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PGliteThread } from '../../../src/sessions/pglite/pglite-thread.ts';
import { isDamage } from '../../../src/sessions/storage-errors.ts';

describe('PGliteThread', () => {
  let db: PGliteThread;
  beforeAll(async () => {
    db = await PGliteThread.open(undefined);
    await db.exec('create table t (id int primary key, note text, at timestamptz default now())');
  });
  afterAll(async () => {
    await db.close();
  });

  it('answers a query with its rows, as objects or as arrays', async () => {
    await db.query('insert into t (id, note) values ($1, $2), ($3, $4)', [1, 'one', 2, 'two']);
    expect((await db.query<{ id: number; note: string }>('select id, note from t order by id')).rows).toEqual([
      { id: 1, note: 'one' },
      { id: 2, note: 'two' },
    ]);
    expect((await db.query('select id, note from t order by id', [], { rowMode: 'array' })).rows).toEqual([
      [1, 'one'],
      [2, 'two'],
    ]);
  });

  it('keeps the text of the types whose parsers drizzle gives, and parses the others', async () => {
    const TIMESTAMPTZ = 1184;
    const kept = await db.query<{ at: unknown }>('select at from t where id = 1', [], { parsers: { [TIMESTAMPTZ]: (v: string) => v } });
    expect(typeof kept.rows[0]!.at).toBe('string');
    const parsed = await db.query<{ at: unknown }>('select at from t where id = 1');
    expect(parsed.rows[0]!.at).toBeInstanceOf(Date);
  });

  it('commits a transaction whose callback resolves, and rolls back one that throws', async () => {
    await db.transaction(async (tx) => {
      await tx.query('insert into t (id, note) values (10, $1)', ['kept']);
    });
    await expect(
      db.transaction(async (tx) => {
        await tx.query('insert into t (id, note) values (11, $1)', ['dropped']);
        throw new Error('changed my mind');
      }),
    ).rejects.toThrow('changed my mind');
    expect((await db.query<{ id: number }>('select id from t where id >= 10 order by id')).rows).toEqual([{ id: 10 }]);
  });

  it('lets a query from outside wait until an open transaction ends, so it never reads half of it', async () => {
    let outside: Promise<unknown> | undefined;
    await db.transaction(async (tx) => {
      await tx.query('insert into t (id, note) values (20, $1)', ['a']);
      outside = db.query<{ n: number }>('select count(*)::int as n from t where id in (20, 21)');
      await tx.query('insert into t (id, note) values (21, $1)', ['b']);
    });
    expect(((await outside) as { rows: { n: number }[] }).rows).toEqual([{ n: 2 }]);
  });

  it('passes on PostgreSQL errors with their SQLSTATE, which the storage messages read', async () => {
    const err = await db.query('insert into t (id) values (1)').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as { code?: string }).code).toBe('23505');
    expect((err as Error).message).toMatch(/duplicate key/);
    const damaged = await db.query("do $$ begin raise exception 'page damaged' using errcode = 'XX001'; end $$").catch((e: unknown) => e);
    expect(isDamage(damaged)).toBe(true);
  });

  it('runs statements in its own thread: a timer here fires while a long one runs there', async () => {
    let fired = false;
    const timer = setTimeout(() => (fired = true), 1);
    const firedBeforeAnswer = db.query('select count(*) from generate_series(1, 3000000)').then(() => fired);
    await expect(firedBeforeAnswer).resolves.toBe(true);
    clearTimeout(timer);
  });
});

describe('PGliteThread, closed', () => {
  it('refuses queries after close with a message saying so', async () => {
    const db = await PGliteThread.open(undefined);
    await db.close();
    await expect(db.query('select 1')).rejects.toThrow('the embedded database is closed');
  });
});
