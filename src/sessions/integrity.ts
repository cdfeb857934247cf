/**
 * Whether the session tables are whole. A garbled page makes PostgreSQL fail a query (SQLSTATE XX001), but a
 * truncated or emptied table file reads as a table with fewer rows, silently: an export would then write half
 * the history and succeed. Two checks find what a plain read cannot:
 *  - each table read through its primary key index and read directly give the same number of rows;
 *  - no row points (by foreign key) at a row that is not there: deletes cascade, so only damage leaves one.
 * Reads every table once: for start-up of an embedded database and before an export, not per turn.
 */
import { sql } from 'drizzle-orm';
import type { SessionDb } from './database.ts';

interface Rows<T> {
  readonly rows: T[];
}

async function rows<T>(db: SessionDb, query: ReturnType<typeof sql>): Promise<T[]> {
  return ((await db.execute(query)) as unknown as Rows<T>).rows;
}

/** Problems found, one phrase each ("the table turns has 3 rows in its index but 0 in its file"); empty when whole. */
export async function checkTables(db: SessionDb): Promise<string[]> {
  const problems: string[] = [];
  const keys = await rows<{ table: string; column: string }>(
    db,
    sql`select c.relname as "table", a.attname as "column"
          from pg_index i join pg_class c on c.oid = i.indrelid
          join pg_attribute a on a.attrelid = c.oid and a.attnum = i.indkey[0]
         where i.indisprimary and c.relnamespace = (select oid from pg_namespace where nspname = current_schema()) and c.relname not like '\\_\\_%'
         order by c.relname`,
  );
  for (const { table, column } of keys) {
    const counted = await db.transaction(async (tx) => {
      await tx.execute(sql`set local enable_seqscan = off`);
      await tx.execute(sql`set local enable_bitmapscan = off`);
      const [viaIndex] = await rows<{ n: number }>(tx as unknown as SessionDb, sql`select count(${sql.identifier(column)})::int as n from ${sql.identifier(table)}`);
      await tx.execute(sql`set local enable_seqscan = on`);
      await tx.execute(sql`set local enable_indexscan = off`);
      await tx.execute(sql`set local enable_indexonlyscan = off`);
      const [direct] = await rows<{ n: number }>(tx as unknown as SessionDb, sql`select count(*)::int as n from ${sql.identifier(table)}`);
      return { index: viaIndex?.n ?? 0, file: direct?.n ?? 0 };
    });
    if (counted.index !== counted.file) problems.push(`the table ${table} has ${counted.index} rows in its index but ${counted.file} in its file`);
  }
  const references = await rows<{ name: string; child: string; column: string; parent: string; key: string }>(
    db,
    sql`select con.conname as name, ch.relname as child, ca.attname as "column", pa.relname as parent, pk.attname as key
          from pg_constraint con
          join pg_class ch on ch.oid = con.conrelid join pg_attribute ca on ca.attrelid = ch.oid and ca.attnum = con.conkey[1]
          join pg_class pa on pa.oid = con.confrelid join pg_attribute pk on pk.attrelid = pa.oid and pk.attnum = con.confkey[1]
         where con.contype = 'f' and cardinality(con.conkey) = 1 and ch.relnamespace = (select oid from pg_namespace where nspname = current_schema())
         order by con.conname`,
  );
  for (const r of references) {
    const [orphans] = await rows<{ n: number }>(
      db,
      sql`select count(*)::int as n from ${sql.identifier(r.child)} c
           where c.${sql.identifier(r.column)} is not null
             and not exists (select 1 from ${sql.identifier(r.parent)} p where p.${sql.identifier(r.key)} = c.${sql.identifier(r.column)})`,
    );
    if (orphans && orphans.n > 0) problems.push(`${orphans.n} rows of ${r.child} point at rows of ${r.parent} that are missing`);
  }
  return problems;
}
