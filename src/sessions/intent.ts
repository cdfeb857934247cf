/**
 * The deterministic intent classifier: what a chat message asks for, from its
 * text, its attachments and whether there is something to revise. It errs
 * towards asking: a message it cannot place gets a clarifying question rather
 * than an edit that might replace the user's work. A model can give a second
 * opinion on free text (`IntentAdvisor`); `applyAdvice` decides how far it is
 * followed.
 */
import type { Rule } from '../builder/builder.ts';
import type { IntentAdvice } from '../builder/intent-advisor.ts';
import { type BrickInfo, parseRule } from '../builder/rules.ts';
import type { Intent } from './types.ts';

export interface IntentContext {
  readonly hasImage: boolean;
  /** There is a current image to edit further. */
  readonly hasCurrent: boolean;
  /** There is an earlier planned turn that feedback could revise. */
  readonly hasLastTurn: boolean;
  /** The message replies to one of the bot's earlier turns, which feedback then revises. */
  readonly replying?: boolean;
  /** Bricks rules may name: the registry's (`registry.list()`). */
  readonly bricks: readonly BrickInfo[];
}

export interface Classified {
  readonly intent: Intent;
  readonly rule?: Rule;
  /** A rule for every conversation of this user on this platform ("… in all my chats"), not just this one. */
  readonly everywhere?: boolean;
  /** 1-based rule number for forget-rule. */
  readonly index?: number;
  /** For clarify. */
  readonly question?: string;
}

const COMMANDS: ReadonlyArray<{ readonly intent: Intent; readonly re: RegExp }> = [
  { intent: 'undo', re: /^\/?(undo|go back|back|revert|undo (that|it|the last (one|edit|change)))[.!]*$/i },
  { intent: 'redo', re: /^\/?(redo|redo (that|it)|forward)[.!]*$/i },
  { intent: 'history', re: /^\/?(history|show (me )?(the )?history|what have (we|you) done)[.!?]*$/i },
  { intent: 'rules', re: /^\/?(rules|show (me )?(the |my )?rules|list (the |my )?rules|what are (the |my )?rules)[.!?]*$/i },
  { intent: 'reset', re: /^\/?(reset|start (over|again|afresh)|new conversation|clear( everything)?)[.!]*$/i },
  { intent: 'show-plan', re: /^\/?(plan|show (me )?(the )?(plan|workflow)|what did you (do|run)|how did you do (that|it))[.!?]*$/i },
  { intent: 'cancel', re: /^\/?(cancel|stop|abort)( (it|that|this))?[.!]*$/i },
];

const FORGET = /^\/?(forget|remove|delete|drop)( the)?( rule)? ?#?(\d+)[.!]*$/i;

/**
 * Feedback on the last result. Bare "more"/"less" and "too …" only count when
 * they stand alone or lead: "more vivid colours" is a new instruction.
 */
const FEEDBACK: readonly RegExp[] = [
  /^(no|nope|nah|not (that|this|quite|really|like that|what i (meant|wanted|asked))|wrong|that'?s (wrong|not (it|right|what i (meant|wanted))))\b/i,
  /\btoo (much|strong|weak|little|bright|dark|light|subtle|big|small|far|many|few|extreme|obvious)\b/i,
  /^(a (bit|little|lot|tad) |much |even |slightly )?(more|less|stronger|weaker|lighter|softer|harder)( (please|than that|of (it|that)))?[.!]*$/i,
  /\bnot (enough|strong enough|bright enough|dark enough)\b/i,
  /^(again|try again|once more|one more time|another (one|try|version|go)|(do|redo) it again|the other one|other one)\b/i,
  /\binstead\b/i,
  // A compound correction: "undo that and make it black and white" re-plans the last edit's photo.
  /^(?:undo|revert|scrap|go back(?: on)?)(?: (?:that|it|this|the last (?:one|edit|change)))?\s*(?:,|;|and then|and|then)\s*\S/i,
];

/** "in all my chats", "everywhere": the scope of a rule, said before or after it. */
const EVERYWHERE = /(?:^|[\s,;:]+)(?:(?:in|for|across)\s+(?:all|every)\s+(?:of\s+)?(?:my\s+|our\s+|the\s+)?(?:chats?|conversations?|groups?)|everywhere)\b[\s,;:]*/i;

/** Too little to act on: bare "no", an emoji, a "?". */
const BARE_FEEDBACK = /^(no|nope|nah|wrong|hmm+|meh|\?+|!+|\.+)[.!?]*$/i;

/** Thanks, acknowledgements and greetings: never an instruction, whatever the Builder would make of them. */
const SMALL_TALK =
  /^(thanks?( you)?( (so|very) much)?|thx|ty|cheers|ok(ay)?|k|yes|yep|yeah|sure|great|perfect|nice|cool|awesome|good( job)?|well done|love it|that'?s (great|perfect|good|nice|it)|hi|hello|hey|good (morning|afternoon|evening)|bye|goodbye)([,\s]+(thanks|thank you|bot))*(?:[.!]|\p{Extended_Pictographic}|\uFE0F)*$/iu;

/** A bare question word ("why?", "which one?") or a plea for help: answered with examples, not planned. */
const QUESTION_OR_HELP = /^(why|what|which( one)?|how|huh|where|who|help|help me|what can you do|what do you do|how does (this|it) work)\s*\?*[.!]*$/i;

/** Deterministic answers a model is asked about: free text that is not a command, a rule or small talk. */
export function isAdvisable(c: Classified): boolean {
  return c.intent === 'follow-up' || c.intent === 'revision';
}

const EXAMPLES = 'For example "make it black and white", "remove the car", "change the car colour to light blue", or "undo".';

function isNoise(text: string): boolean {
  return text.replace(/[\p{P}\p{S}\s]/gu, '').length < 2;
}

/** How a message that is only a rule starts. */
const RULE_OPENING = /^(?:(?:in|for|across) (?:all|every) |everywhere\b|from now on\b|never\b|don'?t\b|do not\b|always\b|avoid\b|prefer\b|i'?d rather\b|no more\b)/i;

/** A standing rule ("never use FLUX-STYLE", "… in all my chats"), or undefined. */
function ruleOf(t: string, ctx: IntentContext): Classified | undefined {
  // The scope is read off first, so the rule's own text (shown in /rules) is the rule alone.
  const scoped = EVERYWHERE.test(t) ? t.replace(EVERYWHERE, ' ').trim() : undefined;
  const rule = parseRule(scoped ?? t, ctx.bricks);
  return rule ? { intent: 'rule', rule, ...(scoped !== undefined ? { everywhere: true } : {}) } : undefined;
}

export function classify(text: string | undefined, ctx: IntentContext): Classified {
  const t = (text ?? '').trim().replace(/\s+/g, ' ');
  if (ctx.hasImage) {
    if (!t || isNoise(t)) return { intent: 'ask-what-to-do', question: 'What should I do with this photo? For example: "make it black and white".' };
    // A rule is a rule whenever it comes, with a photo too: the photo is kept for the next instruction.
    // Only when the words are the rule alone ("never use FLUX-STYLE"), not an instruction that carries one.
    return (RULE_OPENING.test(t) ? ruleOf(t, ctx) : undefined) ?? { intent: 'edit' };
  }
  if (!t) return { intent: 'clarify', question: 'Send me a photo with an instruction, for example "make it black and white".' };
  for (const c of COMMANDS) if (c.re.test(t)) return { intent: c.intent };
  const forget = FORGET.exec(t);
  if (forget) return { intent: 'forget-rule', index: Number(forget[4]) };

  if (SMALL_TALK.test(t)) return { intent: 'clarify', question: `${/^(hi|hello|hey|good (morning|afternoon|evening))/i.test(t) ? 'Hello!' : 'Glad to help.'} Send a photo with an instruction, or tell me what to change next. ${EXAMPLES}` };
  if (QUESTION_OR_HELP.test(t)) return { intent: 'clarify', question: `I edit photos from instructions. ${EXAMPLES} "show plan" shows how I did the last edit.` };

  const rule = ruleOf(t, ctx);
  if (rule) return rule;

  if (BARE_FEEDBACK.test(t) || isNoise(t)) {
    return ctx.hasLastTurn
      ? { intent: 'clarify', question: 'What should I change? For example "too much", "darker instead", or "undo".' }
      : { intent: 'clarify', question: 'Send me a photo with an instruction, for example "make it black and white".' };
  }
  if (FEEDBACK.some((re) => re.test(t))) {
    if (ctx.hasLastTurn || ctx.replying) return { intent: 'revision' };
    if (!ctx.hasCurrent) return { intent: 'clarify', question: 'There is no edit to revise yet. Send me a photo with an instruction.' };
  }
  if (!ctx.hasCurrent) return { intent: 'clarify', question: 'Send me a photo first, with what to change, for example "make it black and white".' };
  return { intent: 'follow-up' };
}

/**
 * The deterministic answer `c`, changed by a model's advice where the advice can be acted on: a revision
 * needs an edit to revise, a follow-up a current image; anything else keeps `c`.
 */
export function applyAdvice(c: Classified, advice: IntentAdvice, ctx: IntentContext): Classified {
  switch (advice.intent) {
    case 'revision':
      return ctx.hasLastTurn || ctx.replying ? { intent: 'revision' } : c;
    case 'follow-up':
      return ctx.hasCurrent ? { intent: 'follow-up' } : c;
    case 'chat':
      return { intent: 'clarify', question: `I edit photos from instructions. ${EXAMPLES}` };
    case 'unclear': {
      const asked = advice.question?.replace(/\s+/g, ' ').trim();
      return { intent: 'clarify', question: asked && asked.length <= 300 ? asked : `I am not sure what you mean. ${EXAMPLES}` };
    }
    default:
      return { intent: advice.intent };
  }
}
