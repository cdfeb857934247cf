/** Outpaint: "expand the image by 25% on the left", "extend to 16:9" (CMI-PRED → FLUX-FILL). */
import { ratioInputs } from '../../../bricks/predict/cmi-ratios.ts';
import { out } from '../draft.ts';
import { statedAspect, statedRatio } from '../language.ts';
import { type Ctx, family } from './context.ts';

/** The bricks `outpaintBy` may add. */
export const OUTPAINTERS = ['CMI-PRED', 'FLUX-FILL'] as const;

export const outpaint = family([...OUTPAINTERS], (clause, ctx) => {
  const anywhere = /\b(outpaint(?:ing)?|uncrop)\b/i.test(clause) ? /^(?:.*?)(?:by\s+)?(?:outpaint(?:ing)?|uncrop(?:ping)?)\b\s*(.*)$/i.exec(clause.replace(/^make it\s+/i, '')) : null;
  if (anywhere) {
    const ratioText = clause;
    return outpaintBy(ctx, ratioText);
  }
  const m = /^(?:expand|extend|outpaint|uncrop|widen|zoom out|broaden|enlarge the canvas|add (?:more )?(?:space|room|canvas)|show more|make (?:it|the image|the picture|the photo) (?:wider|taller))\b\s*(.*)$/i.exec(clause);
  if (!m) return false;
  const rest = m[1]!;
  if (rest && !/^(?:(?:the|this)\s+)?(?:image|picture|photo|canvas|scene|view|frame|it|by|to|on|at|in|from|left|right|top|bottom|horizontally|vertically|sides?|all|both|\d)/i.test(rest) && !/wider|taller/i.test(clause)) return false;
  return outpaintBy(ctx, clause.includes(rest) ? rest || clause : clause);
});

export function outpaintBy(ctx: Ctx, rest: string): boolean {
  const clause = rest;
  const { width, height } = ctx.request.image;
  const stated = statedRatio(rest);
  const aspect = statedAspect(rest);
  /** Each side's multiplier, as CMI-PRED reads it: 1 keeps the side. */
  const r = { left: 1, right: 1, top: 1, bottom: 1 };
  if (aspect) {
    const current = width / height;
    if (aspect > current) r.left = r.right = 1 + (aspect * height - width) / width / 2;
    else r.top = r.bottom = 1 + (width / aspect - height) / height / 2;
  } else {
    const named = [...rest.matchAll(/\b(left|right|top|bottom|up|down|above|below)\b/gi)].map((x) => x[1]!.toLowerCase().replace(/^(up|above)$/, 'top').replace(/^(down|below)$/, 'bottom'));
    const sides = /wider|horizontal|sideways|sides|both sides/i.test(clause) ? ['left', 'right'] : /taller|vertical/i.test(clause) ? ['top', 'bottom'] : named.length ? named : ['left', 'right', 'top', 'bottom'];
    const grown = new Set(sides);
    // "2x", "twice": the picture (or the sides named) reaches that many times its size, shared by the two sides of an axis;
    // "by 30%" (or nothing said: 25%) adds that fraction on each side named.
    const factor = stated !== undefined && /\d\s*(x|×|times)\b|\b(twice|double)\b/i.test(rest) ? Math.min(5, stated) : undefined;
    for (const s of sides) {
      const across = s === 'left' || s === 'right' ? ['left', 'right'] : ['top', 'bottom'];
      const shared = across.every((t) => grown.has(t));
      r[s as keyof typeof r] = factor !== undefined ? (shared ? 1 + (factor - 1) / 2 : factor) : 1 + Math.min(4, stated ?? 0.25);
    }
  }
  const setup = ctx.draft.add('CMI-PRED', { image: ctx.image, ...ratioInputs(r) });
  ctx.image = out(ctx.draft.add('FLUX-FILL', { image: out(setup, 'image'), mask: out(setup, 'mask'), prompt: out(setup, 'caption') }), 'image');
  ctx.notes.push(`CMI-PRED sets up the wider canvas and a caption; FLUX-FILL paints the new area.`);
  return true;
}
