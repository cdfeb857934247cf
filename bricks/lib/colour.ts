/**
 * Colour words in prompts and the colour maths the CPU edit bricks share.
 *
 * Names come from colord's CSS table (148 names, so "light blue" is `lightblue`);
 * a short list adds everyday names CSS lacks, and light/dark/pale/… modifiers
 * derive the rest ("light red"). Lab is used so that recolouring can keep a
 * pixel's lightness (its shading) while replacing its hue and chroma.
 */
import { colord, extend } from 'colord';
import namesPlugin from 'colord/plugins/names';

extend([namesPlugin]);

export type Rgb = readonly [number, number, number];
export type Lab = [number, number, number];

/** Everyday names that are not CSS keywords. */
const EXTRA_NAMES: Readonly<Record<string, Rgb>> = {
  babyblue: [137, 207, 240],
  navyblue: [0, 0, 128],
  burgundy: [128, 0, 32],
  bordeaux: [92, 5, 35],
  maroonred: [128, 0, 0],
  mint: [152, 255, 152],
  mintgreen: [152, 255, 152],
  emerald: [80, 200, 120],
  emeraldgreen: [80, 200, 120],
  racinggreen: [0, 66, 37],
  britishracinggreen: [0, 66, 37],
  ferrarired: [255, 40, 0],
  cherryred: [210, 4, 45],
  scarlet: [255, 36, 0],
  cream: [255, 253, 208],
  champagne: [247, 231, 206],
  mustard: [225, 173, 1],
  lilac: [200, 162, 200],
  mauve: [224, 176, 255],
  rose: [255, 0, 127],
  ruby: [224, 17, 95],
  sapphire: [15, 82, 186],
  cobalt: [0, 71, 171],
  cobaltblue: [0, 71, 171],
  electricblue: [125, 249, 255],
  neongreen: [57, 255, 20],
  neonpink: [255, 16, 240],
  pastelblue: [174, 198, 207],
  pastelpink: [255, 209, 220],
  pastelgreen: [119, 221, 119],
  offwhite: [250, 249, 246],
  charcoal: [54, 69, 79],
  graphite: [65, 66, 76],
  ochre: [204, 119, 34],
  terracotta: [226, 114, 91],
  amber: [255, 191, 0],
  lemon: [255, 247, 0],
  lemonyellow: [255, 244, 79],
  skyblue: [135, 206, 235],
};

/** Words that shift a base colour when "<modifier> <colour>" is not itself a name. */
const MODIFIERS: Readonly<Record<string, (lab: Lab) => Lab>> = {
  light: ([l, a, b]) => [l + (100 - l) * 0.45, a * 0.7, b * 0.7],
  pale: ([l, a, b]) => [l + (100 - l) * 0.55, a * 0.5, b * 0.5],
  pastel: ([l, a, b]) => [l + (100 - l) * 0.5, a * 0.55, b * 0.55],
  dark: ([l, a, b]) => [l * 0.55, a * 0.85, b * 0.85],
  deep: ([l, a, b]) => [l * 0.7, a * 1.1, b * 1.1],
  bright: ([l, a, b]) => [Math.min(100, l * 1.08), a * 1.25, b * 1.25],
  vivid: ([l, a, b]) => [l, a * 1.3, b * 1.3],
  neon: ([l, a, b]) => [Math.min(100, l * 1.1), a * 1.4, b * 1.4],
  muted: ([l, a, b]) => [l, a * 0.55, b * 0.55],
  dusty: ([l, a, b]) => [l * 0.95, a * 0.5, b * 0.5],
};

/** A CSS or extra name written as one word ("lightblue") or spread over words ("light blue"). */
export function namedColour(word: string): Rgb | undefined {
  const key = word.toLowerCase().replace(/[\s_-]+/g, '').replace(/grey/g, 'gray');
  if (!/^[a-z]+$/.test(key) || key === 'transparent') return undefined;
  const extra = EXTRA_NAMES[key];
  if (extra) return extra;
  const c = colord(key);
  if (!c.isValid()) return undefined;
  const { r, g, b } = c.toRgb();
  return [r, g, b];
}

/** Lower-case word tokens; "#", "(", ")" and "," kept inside colour literals by `colourLiterals`. */
export function tokens(text: string): string[] {
  return text
    .toLowerCase()
    .replace(/colour/g, 'color')
    .split(/[^a-z0-9]+/)
    .filter(Boolean);
}

export interface ColourMatch {
  readonly rgb: Rgb;
  /** The words (token indices) it was read from, so callers can check what is left over. */
  readonly start: number;
  readonly end: number;
  readonly text: string;
}

/** Hex codes and rgb()/hsl() literals; three-digit hex only with "#" since "bad" or "fed" are words. */
export function colourLiterals(text: string): { rgb: Rgb; text: string }[] {
  const out: { rgb: Rgb; text: string }[] = [];
  const re = /#[0-9a-f]{6}\b|#[0-9a-f]{3}\b|\b(?:0x)?[0-9a-f]{6}\b|(?:rgb|hsl)a?\([^)]*\)/gi;
  for (const m of text.matchAll(re)) {
    let lit = m[0];
    if (/^[0-9a-f]{6}$/i.test(lit) && !/\d/.test(lit)) continue; // "facade" is a word
    if (/^0x/i.test(lit)) lit = `#${lit.slice(2)}`;
    else if (/^[0-9a-f]{6}$/i.test(lit)) lit = `#${lit}`;
    const c = colord(lit);
    if (!c.isValid()) continue;
    const { r, g, b } = c.toRgb();
    out.push({ rgb: [r, g, b], text: m[0] });
  }
  return out;
}

/** Colour names in a token list, longest phrase first ("light sea green" before "green"). */
export function colourWords(words: readonly string[]): ColourMatch[] {
  const out: ColourMatch[] = [];
  for (let i = 0; i < words.length; ) {
    let matched: ColourMatch | undefined;
    for (let n = Math.min(3, words.length - i); n >= 1 && !matched; n--) {
      const phrase = words.slice(i, i + n);
      const rgb = namedColour(phrase.join(''));
      if (rgb) matched = { rgb, start: i, end: i + n, text: phrase.join(' ') };
    }
    if (!matched) {
      const mod = MODIFIERS[words[i]!];
      const next = words[i + 1];
      const base = next ? namedColour(next) : undefined;
      if (mod && base && next) matched = { rgb: labToRgb(mod(rgbToLab(base))), start: i, end: i + 2, text: `${words[i]} ${next}` };
    }
    if (matched) {
      out.push(matched);
      i = matched.end;
    } else i++;
  }
  return out;
}

// --- colour maths (sRGB D65) -------------------------------------------------

const LIN = new Float32Array(256);
for (let i = 0; i < 256; i++) {
  const c = i / 255;
  LIN[i] = c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
}

function fLab(t: number): number {
  return t > 0.008856 ? Math.cbrt(t) : 7.787 * t + 16 / 116;
}

export function rgbToLab(rgb: Rgb): Lab {
  const r = LIN[rgb[0]]!;
  const g = LIN[rgb[1]]!;
  const b = LIN[rgb[2]]!;
  const x = (0.4124 * r + 0.3576 * g + 0.1805 * b) / 0.95047;
  const y = 0.2126 * r + 0.7152 * g + 0.0722 * b;
  const z = (0.0193 * r + 0.1192 * g + 0.9505 * b) / 1.08883;
  const fx = fLab(x);
  const fy = fLab(y);
  const fz = fLab(z);
  return [116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)];
}

function gamma(c: number): number {
  const v = c <= 0.0031308 ? 12.92 * c : 1.055 * c ** (1 / 2.4) - 0.055;
  return Math.max(0, Math.min(255, Math.round(v * 255)));
}

function fInv(t: number): number {
  const t3 = t * t * t;
  return t3 > 0.008856 ? t3 : (t - 16 / 116) / 7.787;
}

/** Lab to 8-bit sRGB, clipping what lies outside the gamut. */
export function labToRgb(lab: readonly [number, number, number]): [number, number, number] {
  const fy = (lab[0] + 16) / 116;
  const x = fInv(fy + lab[1] / 500) * 0.95047;
  const y = fInv(fy);
  const z = fInv(fy - lab[2] / 200) * 1.08883;
  const r = 3.2406 * x - 1.5372 * y - 0.4986 * z;
  const g = -0.9689 * x + 1.8758 * y + 0.0415 * z;
  const b = 0.0557 * x - 0.204 * y + 1.057 * z;
  return [gamma(r), gamma(g), gamma(b)];
}

/** Hue in degrees (0..360), saturation and value (0..1). */
export function rgbToHsv(r: number, g: number, b: number): [number, number, number] {
  const max = Math.max(r, g, b);
  const min = Math.min(r, g, b);
  const d = max - min;
  let h = 0;
  if (d > 0) {
    if (max === r) h = ((g - b) / d) % 6;
    else if (max === g) h = (b - r) / d + 2;
    else h = (r - g) / d + 4;
    h *= 60;
    if (h < 0) h += 360;
  }
  return [h, max === 0 ? 0 : d / max, max / 255];
}

/** Rec. 601 luma, 0..255. */
export function luma(r: number, g: number, b: number): number {
  return 0.299 * r + 0.587 * g + 0.114 * b;
}
