/** A problem the user can fix; printed without a stack trace. Its own module, so main.ts loads nothing heavy for it. */
export class CliError extends Error {}
