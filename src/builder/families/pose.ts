/** Pose and expression: "make her smile", "raise both hands" (FLUX-POSE). */
import { out } from '../draft.ts';
import { family, REMOVE_VERB } from './context.ts';

export const POSE_WORDS =
  /\b(raise|raising|lift|lifting|lower|lowering|wave|waving|smile|smiling|frown|frowning|laugh|laughing|cry|crying|wink|winking|look(?:ing)?\s+(?:up|down|left|right|away|at|towards|to|over|slightly|straight|back)|turn(?:ing)?\s+(?:his|her|their|its|the)\s+(?:head|face|body)|tilt|tilting|nod|nodding|sit(?:ting)?\s+down|stand(?:ing)?\s+up|jump(?:ing)?|run(?:ning)?|danc(?:e|ing)|cross(?:ing)?\s+(?:his|her|their)\s+(?:arms|legs)|fold(?:ing)?\s+(?:his|her|their)\s+arms|clap(?:ping)?|point(?:ing)?|kneel(?:ing)?|bend(?:ing)?|close\s+(?:his|her|their|its)\s+eyes|open\s+(?:his|her|their|its)\s+(?:mouth|eyes)|pose|posture|expression|surprised|angry|sad|happy|shrug|yawn|salute|thumbs up|hands? up|arms? up)\b/i;
export const BODY = /\b(arm|arms|hand|hands|head|face|leg|legs|eyes|mouth|body|posture|pose|expression|smile|person|man|woman|boy|girl|child|kid|he|she|they|people|dog|cat|animal|bird|horse|figure)\b/i;

/** Verbs whose object a pose word only describes ("remove the child bending over", "add a man waving"). */
export const OBJECT_VERB = new RegExp(String.raw`^(?:${REMOVE_VERB}|add|insert|include|introduce|put|place|replace|swap|substitute|exchange|extract|isolate|segment|select|crop)\b`, 'i');

export const pose = family(['FLUX-POSE'], (clause, ctx) => {
  if (!POSE_WORDS.test(clause) || !BODY.test(clause) || OBJECT_VERB.test(clause)) return false;
  // "turn her head and raise both hands": one posture change, so one FLUX-POSE with both.
  const last = ctx.draft.nodes.at(-1);
  if (last?.brick === 'FLUX-POSE' && ctx.image.kind === 'step' && ctx.image.step === last.step && last.inputs.prompt?.kind === 'literal') {
    ctx.draft.nodes[ctx.draft.nodes.length - 1] = { ...last, inputs: { ...last.inputs, prompt: { kind: 'literal', value: `${String(last.inputs.prompt.value)} and ${clause}` } } };
    ctx.notes.push(`FLUX-POSE also makes "${clause}".`);
    return true;
  }
  ctx.image = out(ctx.draft.add('FLUX-POSE', { image: ctx.image, prompt: clause }), 'image');
  ctx.notes.push(`FLUX-POSE changes the posture or expression: "${clause}".`);
  return true;
});
