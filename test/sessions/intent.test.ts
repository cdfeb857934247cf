import { describe, expect, it } from 'vitest';
import { builtinBricks } from '../../bricks/index.ts';
import { classify, type IntentContext } from '../../src/sessions/intent.ts';

const midConversation: IntentContext = { hasImage: false, hasCurrent: true, hasLastTurn: true, bricks: builtinBricks() };
const intentOf = (text: string | undefined, ctx: IntentContext = midConversation): string => classify(text, ctx).intent;

describe('classify', () => {
  it('a photo with text is a new edit; a photo alone asks what to do', () => {
    expect(intentOf('make it black and white', { ...midConversation, hasImage: true })).toBe('edit');
    expect(intentOf(undefined, { ...midConversation, hasImage: true })).toBe('ask-what-to-do');
    expect(intentOf('👍', { ...midConversation, hasImage: true })).toBe('ask-what-to-do');
  });

  it('text alone is a follow-up edit on the current image', () => {
    expect(intentOf('now make it brighter')).toBe('follow-up');
    expect(intentOf('remove the car')).toBe('follow-up');
  });

  it('feedback on the last result is a revision', () => {
    for (const text of ['no, the other sheep', 'too much', 'try again', 'darker instead', 'less']) expect(intentOf(text), text).toBe('revision');
  });

  it('a rule is a rule, with its structured form', () => {
    const c = classify("don't use RES before INPAINT", midConversation);
    expect(c.intent).toBe('rule');
    expect(c.rule).toMatchObject({ kind: 'forbid-before', brick: 'RES' });
  });

  it('a rule said for all chats is a rule everywhere, its text without the scope; "everywhere" in an edit is still an edit', () => {
    for (const text of ['in all my chats, never use FLUX-STYLE', "don't use RES before INPAINT everywhere", 'never use FLUX-STYLE in every conversation']) {
      const c = classify(text, midConversation);
      expect(c, text).toMatchObject({ intent: 'rule', everywhere: true });
      expect(c.rule!.text, text).not.toMatch(/chats|everywhere|conversation/i);
    }
    expect(classify('never use FLUX-STYLE', midConversation).everywhere).toBeUndefined();
    expect(intentOf('remove the dust spots everywhere')).toBe('follow-up');
  });

  it('commands are commands, with or without a slash', () => {
    expect(intentOf('undo')).toBe('undo');
    expect(intentOf('/redo')).toBe('redo');
    expect(intentOf('show plan')).toBe('show-plan');
    expect(classify('forget rule 2', midConversation)).toEqual({ intent: 'forget-rule', index: 2 });
  });

  it('thanks, acknowledgements and greetings are never sent to the Builder as edits', () => {
    for (const text of ['thanks', 'Thank you!', 'ok', 'okay.', 'yes', 'perfect', 'great, thanks', 'cool', 'hi', 'Hello bot', '👍']) {
      const c = classify(text, midConversation);
      expect(c.intent, text).toBe('clarify');
      expect(c.question, text).toMatch(/instruction|change/);
    }
  });

  it('bare questions and pleas for help get examples, not an edit', () => {
    for (const text of ['why?', 'what?', 'which one?', 'help', 'what can you do?']) {
      const c = classify(text, midConversation);
      expect(c.intent, text).toBe('clarify');
      expect(c.question, text).toMatch(/For example/);
    }
  });

  it('still reads sentences that start like small talk as instructions', () => {
    expect(intentOf('ok now remove the car')).toBe('follow-up');
    expect(intentOf('yes, and make it brighter')).toBe('follow-up');
  });

  it('asks for a photo when there is nothing to edit yet', () => {
    expect(intentOf('make it brighter', { ...midConversation, hasCurrent: false, hasLastTurn: false })).toBe('clarify');
  });
});
