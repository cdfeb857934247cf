/**
 * The words an edit instruction is made of, for correcting typos: a misspelt
 * word is put right only when it is close to one of these and is not itself an
 * English word (compromise's lexicon, or one of these).
 */

/** Verbs that open an edit, most used first (a tie between two corrections goes to the earlier). */
export const VERBS = [
  'make', 'remove', 'change', 'turn', 'add', 'replace', 'blur', 'crop', 'rotate', 'flip', 'brighten', 'darken', 'delete', 'erase',
  'colour', 'color', 'recolour', 'recolor', 'paint', 'convert', 'transform', 'increase', 'decrease', 'reduce', 'raise', 'lower',
  'boost', 'lighten', 'enhance', 'sharpen', 'pixelate', 'resize', 'scale', 'shrink', 'enlarge', 'expand', 'extend', 'extract',
  'isolate', 'insert', 'place', 'put', 'swap', 'substitute', 'keep', 'leave', 'mirror', 'desaturate', 'saturate', 'apply', 'give',
  'straighten', 'trim', 'warm', 'cool', 'eliminate', 'select', 'segment', 'outpaint', 'upscale', 'downscale', 'anonymise', 'anonymize',
  'set', 'render', 'restyle', 'stylise', 'stylize', 'tint', 'dye', 'whiten', 'blacken', 'redden', 'fill', 'mask', 'hide', 'get', 'rid',
];

const NOUNS = [
  'background', 'backdrop', 'foreground', 'picture', 'photo', 'photograph', 'image', 'scene', 'sky', 'grass', 'tree', 'trees', 'road',
  'street', 'building', 'house', 'houses', 'car', 'cars', 'sheep', 'dog', 'dogs', 'cat', 'cats', 'bird', 'birds', 'horse', 'cow',
  'person', 'people', 'woman', 'women', 'man', 'men', 'girl', 'girls', 'boy', 'boys', 'child', 'children', 'face', 'faces', 'hair',
  'skirt', 'dress', 'shirt', 'jacket', 'hat', 'hand', 'hands', 'butterfly', 'butterflies', 'flower', 'flowers', 'text', 'watermark',
  'logo', 'sign', 'plate', 'licence', 'license', 'colours', 'colors', 'contrast', 'brightness', 'saturation', 'exposure', 'hue',
  'square', 'portrait', 'landscape', 'canvas', 'sunset', 'sunrise', 'night', 'fog', 'snow', 'rain', 'style', 'sketch', 'painting',
  'watercolour', 'watercolor', 'cartoon', 'pencil', 'vintage', 'sepia', 'monochrome', 'grayscale', 'greyscale', 'everything', 'degrees',
  'bicycle', 'truck', 'bus', 'boat', 'umbrella', 'bag', 'bench', 'chair', 'table', 'window', 'wall', 'door', 'ground', 'water',
  'everyone', 'animal', 'animals', 'mountain', 'beach', 'forest', 'balloon', 'shadow', 'reflection',
];

const ADJECTIVES = [
  'black', 'white', 'red', 'green', 'blue', 'yellow', 'orange', 'purple', 'pink', 'brown', 'grey', 'gray', 'gold', 'golden', 'silver',
  'light', 'dark', 'bright', 'brighter', 'darker', 'lighter', 'warmer', 'cooler', 'sharper', 'softer', 'bigger', 'smaller', 'larger',
  'left', 'right', 'top', 'bottom', 'middle', 'centre', 'center', 'upper', 'lower', 'leftmost', 'rightmost', 'first', 'second', 'third',
  'horizontally', 'vertically', 'clockwise', 'counterclockwise', 'anticlockwise', 'saturated', 'desaturated', 'vivid', 'vibrant',
  'blurry', 'blurred', 'foggy', 'snowy', 'rainy', 'sunny', 'colourful', 'colorful', 'transparent', 'whole', 'entire', 'other', 'both',
  'every', 'little', 'slightly', 'much', 'more', 'less', 'bit', 'upside', 'down', 'except', 'apart', 'without', 'instead', 'please',
];

const FUNCTION_WORDS = ['the', 'and', 'then', 'also', 'with', 'into', 'from', 'this', 'that', 'it', 'to', 'of', 'on', 'in', 'a', 'an', 'but', 'not', 'all'];

/** Every word a correction may produce. */
export const DOMAIN_WORDS: ReadonlySet<string> = new Set([...VERBS, ...NOUNS, ...ADJECTIVES, ...FUNCTION_WORDS]);

/** Priority of a word when two corrections are equally close: verbs in order of use, then the rest. */
export const PRIORITY: ReadonlyMap<string, number> = new Map([...VERBS, ...NOUNS, ...ADJECTIVES, ...FUNCTION_WORDS].map((w, i) => [w, i]));

/** Nouns whose plural is not "+s", so "sheeps" means "sheep" and "womans skirt" means "woman's skirt". */
export const IRREGULAR_PLURAL: Readonly<Record<string, string>> = { sheep: 'sheep', deer: 'deer', fish: 'fish', woman: "woman's", man: "man's", child: "child's", person: "person's" };

/** Shorthands people type, read as the words they stand for. */
export const SHORTHANDS: Readonly<Record<string, string>> = { pls: 'please', plz: 'please', pic: 'picture', pics: 'pictures', bw: 'black and white', 'b&w': 'black and white', thx: 'thanks', u: 'you', ur: 'your', '&': 'and', dont: 'do not', doesnt: 'does not', cant: 'cannot', wont: 'will not', isnt: 'is not', didnt: 'did not', id: 'I would', im: 'I am' };
