import { LegoEditError } from '../engine/errors.ts';

/** Something about the conversation itself (no image yet, nothing to revise, an image pruned); the message is for the user. */
export class SessionError extends LegoEditError {}
