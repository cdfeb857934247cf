/** Who may use the bot where: allowed chats/guilds/channels and admins, from configuration. */

export interface AccessConfig {
  /** Chat, guild or channel ids; everyone everywhere when undefined or empty. */
  readonly allowedChats?: readonly string[];
  readonly adminUsers?: readonly string[];
}

export interface AccessSubject {
  readonly userId: string;
  /** Every id the place goes by (chat; or guild and channel); any one listed admits it. */
  readonly places: readonly string[];
}

export class AccessPolicy {
  readonly #allowed: ReadonlySet<string> | undefined;
  readonly #admins: ReadonlySet<string>;

  constructor(config: AccessConfig) {
    this.#allowed = config.allowedChats?.length ? new Set(config.allowedChats) : undefined;
    this.#admins = new Set(config.adminUsers ?? []);
  }

  isAdmin(userId: string): boolean {
    return this.#admins.has(userId);
  }

  /** Admins are let in anywhere so they can set the bot up in a new place. */
  allows(subject: AccessSubject): boolean {
    if (this.isAdmin(subject.userId)) return true;
    if (!this.#allowed) return true;
    return subject.places.some((p) => this.#allowed!.has(p));
  }
}

export const NOT_ALLOWED_TEXT = 'Sorry, I’m not enabled in this chat. Ask the bot’s admin to add it to ALLOWED_CHATS.';
