import { defineConfig } from 'drizzle-kit';

/** `npm run db:generate` writes SQL migrations for db/schema.ts; they are applied at start-up. */
export default defineConfig({
  dialect: 'postgresql',
  schema: './db/schema.ts',
  out: './migrations',
});
