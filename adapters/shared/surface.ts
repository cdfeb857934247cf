/**
 * What a platform adapter implements for the chat controller: the few ways a bot
 * answers in one place (a chat, a reply thread, a deferred interaction), like
 * grammY's context. Everything above this — commands, buttons, how session events
 * read, which message belongs to which turn — lives in the controller, once.
 */
import type { ConversationKey, ResultImage } from '../../src/sessions/types.ts';

/** What a button does; its data names the action, the turn and the owner. */
export type ButtonAction = 'undo' | 'retry' | 'plan' | 'cancel';

export interface Button {
  readonly action: ButtonAction;
  readonly label: string;
  readonly emoji: string;
  /** Opaque to the platform: Telegram's callback_data, Discord's custom_id (at most 64 bytes). */
  readonly data: string;
}

/** A file to send: a picture (with the image's own fields, so a platform can choose photo or document, or re-encode it) or any document. */
export interface OutgoingFile {
  readonly name: string;
  readonly bytes: Buffer;
  readonly image?: ResultImage;
}

export interface Surface {
  /**
   * The status message and the turn's outcome are one message (Discord's deferred reply): the outcome
   * (result caption, error line) is written into it, and `send` replaces it. Otherwise the status is
   * finalised on its own and the outcome follows as a new message.
   */
  readonly outcomeInStatus: boolean;
  /** A line of text, in reply to what started this where the platform can. */
  text(content: string): Promise<void>;
  /** A line for the requester alone (their own limits), where the platform can show one; `text` otherwise. */
  personal?(content: string): Promise<void>;
  /** Shows the turn's status message the first time, edits it after; `buttons` replace the ones it had. */
  status(content: string, buttons: readonly Button[]): Promise<void>;
  /** Files (often none) with a caption and buttons; returns the ids of the platform messages that carry them. */
  send(content: string, files: readonly OutgoingFile[], buttons: readonly Button[]): Promise<readonly string[]>;
}

/** A button press as the platform delivered it. */
export interface ButtonPress {
  readonly data: string;
  /** Who pressed. */
  readonly userId: string;
  /** Unique per press: the message id of a Retry's feedback. */
  readonly pressId: string;
  /** The message the button sits on. */
  readonly messageId?: string;
  /** The conversation of the button's owner, in the place it was pressed. */
  conversation(ownerId: string, threadId: string | undefined): ConversationKey;
  /**
   * A short notice to the presser alone (Telegram's callback answer, an alert when `alert`; Discord's
   * ephemeral reply). Without text it only acknowledges the press, where the platform wants that.
   */
  notice(text?: string, alert?: boolean): Promise<void>;
  /** Takes the press on (Telegram: answers with `text`; Discord: defers) and returns where the answer to `key` goes. */
  accept(text: string, key: ConversationKey): Promise<Surface>;
}
