/** Geometry: crop, rotate, flip, scale or zoom the whole picture, and resize one object (RESIZE of its mask, then PASTE). */
import { out } from '../draft.ts';
import { isEmptyPhrase, objectPhrase, statedAspect, statedRatio } from '../language.ts';
import { type Ctx, family, removeRegion, REMOVERS, segment, Unplannable } from './context.ts';

/** How much to scale one object: what the text states ("by 20%" is a change, "50%" a size), else half as big again or two thirds the size. */
export function objectRatio(text: string, grow: boolean): number {
  let ratio = statedRatio(text);
  const change = /\bby\s+\d+(?:\.\d+)?\s*(?:%|percent)|\d+(?:\.\d+)?\s*(?:%|percent)\s*(?:smaller|larger|bigger|tinier)/i.test(text);
  if (ratio !== undefined && change && ratio < 1) ratio = grow ? 1 + ratio : 1 - ratio;
  // "2x smaller": a factor said the growing way round.
  if (ratio !== undefined && !grow && ratio > 1) ratio = 1 / ratio;
  ratio ??= grow ? 1.5 : 2 / 3;
  return Math.min(8, Math.max(0.01, Number(ratio.toFixed(3))));
}

/**
 * "make the dog smaller": RESIZE moves the object's mask to its new size about
 * its bottom centre (it stays standing where it stood), the old place is filled
 * from its surroundings, and PASTE puts the object, cut out of the image by its
 * mask, into the new region.
 */
export function resizeObject(ctx: Ctx, object: string, ratio: number): void {
  const mask = segment(ctx, object);
  const source = ctx.image;
  const resized = out(ctx.draft.add('RESIZE', { mask, ratio }), 'mask');
  removeRegion(ctx, mask);
  ctx.image = out(ctx.draft.add('PASTE', { image: ctx.image, reference: source, mask: resized, cutout: mask }), 'image');
  ctx.notes.push(`RESIZE scales the mask of "${object}" by ${ratio} about its bottom centre; PASTE puts "${object}" there at that size.`);
}

export const geometry = family(['ROTATE', 'FLIP', 'CROP', 'SCALE', 'RESIZE', 'PASTE', ...REMOVERS], (clause, ctx) => {
  const { width, height } = ctx.request.image;
  const wholeImage = (t: string): boolean => !t.trim() || /^(it|the (whole |entire )?(image|picture|photo|photograph|canvas|pic)|this( (image|photo|picture))?|everything)$/i.test(t.trim());
  let m = /^(?:rotate|turn|spin|tilt)\s*(.*?)\s*(?:by\s+)?(-?\d+(?:\.\d+)?)\s*(?:°|degrees?|deg)\s*(clockwise|cw|counter-?clockwise|anti-?clockwise|ccw|to the left|to the right|left|right)?/i.exec(clause);
  if (m && wholeImage(m[1]!)) {
    const ccw = /counter|anti|ccw|left/i.test(m[3] ?? '');
    ctx.image = out(ctx.draft.add('ROTATE', { image: ctx.image, angle: (ccw ? -1 : 1) * Number(m[2]) }), 'image');
    return true;
  }
  m = /^(?:rotate|turn)\s*(.*?)\s*(upside down|(?:90 )?(?:to the )?(?:left|right)|clockwise|counter-?clockwise|anti-?clockwise|sideways|a quarter turn|half a turn|180)$/i.exec(clause);
  if (m && wholeImage(m[1]!)) {
    const dir = m[2]!.toLowerCase();
    const angle = /upside|half|180/.test(dir) ? 180 : /left|counter|anti/.test(dir) ? -90 : 90;
    ctx.image = out(ctx.draft.add('ROTATE', { image: ctx.image, angle }), 'image');
    return true;
  }
  m = /^(?:flip|mirror|reflect)\s*(.*?)\s*(horizontally|vertically|upside down|left[- ]to[- ]right|top[- ]to[- ]bottom|side[- ]to[- ]side)?$/i.exec(clause);
  if (m && wholeImage(m[1]!.replace(/\b(horizontally|vertically)\b/i, ''))) {
    const vertical = /vertical|upside|top/i.test(`${m[2] ?? ''} ${m[1]}`);
    ctx.image = out(ctx.draft.add('FLIP', { image: ctx.image, direction: vertical ? 'vertical' : 'horizontal' }), 'image');
    return true;
  }
  m = /^(?:crop|trim|cut)\s*(.*)$/i.exec(clause);
  if (m && !/^(out|away)\b/i.test(m[1]!)) {
    const rest = m[1]!;
    const aspect = statedAspect(rest);
    const sides: Record<string, number> = {};
    const pct = statedRatio(rest);
    const half = /\b(left|right|top|bottom|upper|lower) half\b/i.exec(rest);
    if (half) {
      const keep = half[1]!.toLowerCase().replace('upper', 'top').replace('lower', 'bottom');
      const opposite: Record<string, string> = { left: 'right', right: 'left', top: 'bottom', bottom: 'top' };
      // "crop the left half" keeps it; "crop off/out/away the left half" removes it.
      sides[/\b(off|away|remove)\b/i.test(rest) ? keep : opposite[keep]!] = 0.5;
    } else if (pct !== undefined && pct < 1) {
      const named = [...rest.matchAll(/\b(left|right|top|bottom)\b/gi)].map((x) => x[1]!.toLowerCase());
      for (const s of named.length ? named : ['left', 'right', 'top', 'bottom']) sides[s] = Number(pct.toFixed(3));
    }
    const toObject = /\b(?:to|around|on)\s+(?:just\s+)?(the\s+(?!edges?|sides?|centre|center|middle)[a-z][\w\s'-]*)$/i.exec(rest);
    const mask = toObject && !aspect && !statedRatio(toObject[1]!) ? segment(ctx, objectPhrase(toObject[1]!)) : undefined;
    if (!aspect && !mask && Object.keys(sides).length === 0) {
      if (/\b(tighter|in|closer|a bit|slightly|edges?|borders?)\b/i.test(rest) || rest === '' || wholeImage(rest)) Object.assign(sides, { left: 0.1, right: 0.1, top: 0.1, bottom: 0.1 });
      else throw new Unplannable(`I can't tell how to crop "${rest}"; say e.g. "crop to a square", "crop 10% off each side" or "crop to the dog"`);
    }
    ctx.image = out(ctx.draft.add('CROP', { image: ctx.image, ...sides, aspect, mask }), 'image');
    return true;
  }
  // "increase the size of the kangaroo", "adjust the size of the vase to be larger".
  m = /^(increase|enlarge|reduce|decrease|adjust|change)\s+the size(?:\s+of\s+(.+?))?(?:\s+(?:to be|so (?:it|that it) is|to make (?:it|them))?\s*((?:by\s+)?(?:\d+(?:\.\d+)?\s*(?:%|x\b|×|times|percent)\s*)?(?:larger|bigger|smaller)?))?$/i.exec(clause);
  if (m) {
    const grow = /increase|enlarge/i.test(m[1]!) || /larger|bigger/i.test(m[3] ?? '');
    const shrink = /reduce|decrease/i.test(m[1]!) || /smaller/i.test(m[3] ?? '');
    const object = objectPhrase(m[2] ?? 'it');
    if (grow === shrink || isEmptyPhrase(object)) return false;
    if (wholeImage(m[2] ?? '')) {
      ctx.image = out(ctx.draft.add('SCALE', { image: ctx.image, ratio: statedRatio(m[3] ?? '') ?? (grow ? 2 : 0.5) }), 'image');
      return true;
    }
    resizeObject(ctx, object, objectRatio(m[3] ?? '', grow));
    return true;
  }
  m = /^(?:resize|scale|rescale|upscale|downscale|upsample|downsample|shrink|enlarge|make)\s*(.*)$/i.exec(clause);
  if (m) {
    const rest = m[1]!;
    const verb = clause.split(' ')[0]!.toLowerCase();
    const target = rest.replace(/\d+(?:\.\d+)?\s*(?:%|x\b|×|px\b|pixels\b|percent\b)/gi, ' ').replace(/\b(to|by|up|down|be|the size|size|a factor of|times|as big|as large|bigger|smaller|larger|wide|tall|high|pixels?|px|\d+(\.\d+)?%?|x|twice|half|double|percent|per cent|width|height|of)\b/gi, '').trim();
    const isWhole = wholeImage(target) || /^(image|picture|photo)$/i.test(target);
    if (verb === 'make' && isWhole && !/\b(bigger|smaller|larger|twice|half|double|\d+\s*(px|pixels)|resolution)\b|\d\s*%/i.test(rest)) return false;
    if (!isWhole) {
      // "make the cat twice as fluffy" is not about size: after "make", only a comparative of size is.
      // And it ends the clause: "make the smaller sheep black and white" names a sheep by its size.
      if (verb === 'make' && !/\b(bigger|smaller|larger|tinier)(?:\s+(?:by|than)\b.*)?$/i.test(rest)) return false;
      if (!/^(resize|scale|rescale|shrink|enlarge|make)$/.test(verb)) return false;
      const object = objectPhrase(target);
      if (isEmptyPhrase(object)) return false;
      resizeObject(ctx, object, objectRatio(rest, !/shrink|smaller|tinier|shorter|down/i.test(`${verb} ${rest}`)));
      return true;
    }
    let ratio = statedRatio(rest);
    const px = /(\d{2,5})\s*(?:px|pixels)?\s*(wide|width|tall|high|height)?/i.exec(rest);
    if (ratio === undefined && px && (px[2] || /px|pixels/i.test(rest))) ratio = Number(px[1]) / (/tall|high|height/i.test(px[2] ?? '') ? height : width);
    if (ratio === undefined) ratio = /upscale|enlarge|bigger|larger|up\b/i.test(`${verb} ${rest}`) ? 2 : /downscale|shrink|smaller|down\b/i.test(`${verb} ${rest}`) ? 0.5 : undefined;
    if (ratio === undefined) throw new Unplannable('say how much to resize, e.g. "resize to 50%" or "resize to 800 pixels wide"');
    if (/\b(by|up by|down by)\s+\d+\s*%|\d+\s*%\s*(smaller|larger|bigger)/i.test(rest) && ratio < 1) ratio = /down|shrink|smaller|reduce/i.test(`${verb} ${rest}`) ? 1 - ratio : 1 + ratio;
    ratio = Math.min(8, Math.max(0.01, Number(ratio.toFixed(4))));
    ctx.image = out(ctx.draft.add('SCALE', { image: ctx.image, ratio }), 'image');
    return true;
  }
  // "zoom in 2x": the same canvas, the picture magnified about its centre (RESIZE of a plain image).
  m = /^zoom(?: in(?:to)?)?\s*(.*)$/i.exec(clause);
  if (m && !/^out\b/i.test(m[1]!)) {
    const rest = m[1]!.replace(/\b(on|by|to|a factor of)\b/gi, ' ');
    const ratio = statedRatio(rest) ?? 2;
    if (!wholeImage(rest.replace(/\d+(?:\.\d+)?\s*(?:%|x\b|×|times)|\b(twice|double)\b/gi, '').trim())) return false;
    ctx.image = out(ctx.draft.add('RESIZE', { image: ctx.image, ratio: Math.min(8, Math.max(1, ratio)) }), 'image');
    return true;
  }
  return false;
});
