/**
 * Reading an English referring phrase ("the second sheep from the left", "the red car")
 * into a COCO label, colour words, locative words and a count, and choosing among
 * detections with it. Rules, not a language model: what it cannot read it reports.
 */
import type { ImageData } from '../../src/engine/values.ts';
import type { CocoLabel, Detection } from '../models/human.ts';
import { COCO_LABELS } from '../models/human.ts';

const ANIMALS: readonly CocoLabel[] = ['dog', 'cat', 'horse', 'sheep', 'cow', 'elephant', 'bear', 'zebra', 'giraffe', 'bird'];

/** Words for COCO classes, singular and plural; longer phrases are matched first. */
const SYNONYMS: Record<string, readonly CocoLabel[]> = {
  automobile: ['car'], automobiles: ['car'], vehicle: ['car', 'truck', 'bus', 'motorcycle'], vehicles: ['car', 'truck', 'bus', 'motorcycle'],
  suv: ['car', 'truck'], suvs: ['car', 'truck'], jeep: ['car', 'truck'], van: ['car', 'truck'], vans: ['car', 'truck'], taxi: ['car'], cab: ['car'],
  sedan: ['car'], hatchback: ['car'], 'race car': ['car'], 'racing car': ['car'], 'rally car': ['car'], 'sports car': ['car'], cars: ['car'],
  lorry: ['truck'], pickup: ['truck'], 'pickup truck': ['truck'], trucks: ['truck'], buses: ['bus'], coach: ['bus'],
  motorbike: ['motorcycle'], motorcycles: ['motorcycle'], scooter: ['motorcycle'], moped: ['motorcycle'],
  bike: ['bicycle', 'motorcycle'], bikes: ['bicycle', 'motorcycle'], bicycles: ['bicycle'], cycle: ['bicycle'],
  plane: ['airplane'], aeroplane: ['airplane'], aircraft: ['airplane'], jet: ['airplane'], airplanes: ['airplane'], planes: ['airplane'],
  ship: ['boat'], yacht: ['boat'], sailboat: ['boat'], canoe: ['boat'], kayak: ['boat'], boats: ['boat'], ships: ['boat'],
  locomotive: ['train'], trains: ['train'], tram: ['train'],
  person: ['person'], people: ['person'], persons: ['person'], man: ['person'], men: ['person'], woman: ['person'], women: ['person'],
  girl: ['person'], girls: ['person'], boy: ['person'], boys: ['person'], child: ['person'], children: ['person'], kid: ['person'], kids: ['person'],
  lady: ['person'], ladies: ['person'], guy: ['person'], guys: ['person'], baby: ['person'], human: ['person'], humans: ['person'],
  pedestrian: ['person'], pedestrians: ['person'], player: ['person'], rider: ['person'], driver: ['person'], gentleman: ['person'],
  someone: ['person'], figure: ['person'], character: ['person'], adult: ['person'], teenager: ['person'],
  puppy: ['dog'], puppies: ['dog'], doggy: ['dog'], hound: ['dog'], dogs: ['dog'], kitten: ['cat'], kittens: ['cat'], kitty: ['cat'], cats: ['cat'],
  lamb: ['sheep'], lambs: ['sheep'], ram: ['sheep'], ewe: ['sheep'],
  pony: ['horse'], foal: ['horse'], horses: ['horse'], cattle: ['cow'], cows: ['cow'], bull: ['cow'], calf: ['cow'], ox: ['cow'],
  birds: ['bird'], pigeon: ['bird'], duck: ['bird'], seagull: ['bird'], gull: ['bird'], parrot: ['bird'], chicken: ['bird'], hen: ['bird'], swan: ['bird'],
  elephants: ['elephant'], bears: ['bear'], zebras: ['zebra'], giraffes: ['giraffe'],
  animal: ANIMALS, animals: ANIMALS,
  // Animals the detector has no class for: it reports them as whichever animal they resemble, so the look-alike comes first and any animal will do.
  camel: ['horse', ...ANIMALS], camels: ['horse', ...ANIMALS], donkey: ['horse', ...ANIMALS], mule: ['horse', ...ANIMALS], zebu: ['cow', ...ANIMALS],
  deer: ['horse', ...ANIMALS], llama: ['sheep', ...ANIMALS], alpaca: ['sheep', ...ANIMALS], goat: ['sheep', ...ANIMALS], goats: ['sheep', ...ANIMALS],
  pig: ['sheep', ...ANIMALS], pigs: ['sheep', ...ANIMALS], fox: ['dog', ...ANIMALS], wolf: ['dog', ...ANIMALS], rabbit: ['cat', ...ANIMALS],
  tiger: ['cat', ...ANIMALS], lion: ['cat', ...ANIMALS], leopard: ['cat', ...ANIMALS], monkey: ['bear', ...ANIMALS], panda: ['bear', ...ANIMALS],
  bag: ['handbag', 'backpack', 'suitcase'], purse: ['handbag'], rucksack: ['backpack'], luggage: ['suitcase'],
  ball: ['sports ball'], football: ['sports ball'], soccer: ['sports ball'], basketball: ['sports ball'],
  sofa: ['couch'], settee: ['couch'], table: ['dining table'], desk: ['dining table'], armchair: ['chair'], chairs: ['chair'], seat: ['chair', 'bench'],
  plant: ['potted plant'], houseplant: ['potted plant'], 'flower pot': ['potted plant'], flowerpot: ['potted plant'],
  television: ['tv'], monitor: ['tv'], screen: ['tv', 'laptop'], computer: ['laptop'],
  phone: ['cell phone'], smartphone: ['cell phone'], mobile: ['cell phone'], cellphone: ['cell phone'],
  fridge: ['refrigerator'], 'hair dryer': ['hair drier'], doughnut: ['donut'], mug: ['cup'], glass: ['wine glass', 'cup'],
  teddy: ['teddy bear'], 'stuffed animal': ['teddy bear'], bottles: ['bottle'], books: ['book'], 'traffic lights': ['traffic light'],
  hydrant: ['fire hydrant'], 'stop signs': ['stop sign'], benches: ['bench'], umbrellas: ['umbrella'], kites: ['kite'],
};

/**
 * Classes the detector mistakes each class for (a motorcycle scored as a bicycle, a sofa as a chair):
 * same COCO super-category and the same shape, so the look-alike's box is the object's box.
 * Used only when the named class itself is not detected at all.
 */
const LOOKALIKES: Partial<Record<CocoLabel, readonly CocoLabel[]>> = {
  motorcycle: ['bicycle'], bicycle: ['motorcycle'], bus: ['truck', 'train'], truck: ['bus', 'car'], train: ['bus'],
  couch: ['chair', 'bed', 'bench'], chair: ['couch', 'bench'], bench: ['chair', 'couch'], bed: ['couch'],
  sandwich: ['hot dog'], 'hot dog': ['sandwich'], cup: ['wine glass', 'vase'], 'wine glass': ['cup'], vase: ['cup', 'bottle'],
};

/**
 * Score floors for the named class. At the detector's usual threshold it misses objects it ranks
 * only weakly (a potted plant at 0.06 under the vase it stands in, a cake at 0.15 on a dining table);
 * when the user names the class, its best box below that threshold is still the likeliest place of
 * the object, down to the floor COCO evaluation keeps detections at (0.05). Below it: "not found".
 */
export const CONFIDENT_SCORE = 0.2;
export const WEAK_SCORE_FLOOR = 0.05;

/**
 * The detections a reference may mean, most trusted tier first: its classes at the usual threshold;
 * else its own class (not a synonym's) down to the floor; else a look-alike class at the usual threshold.
 */
export function referentCandidates(ref: Reference, dets: readonly Detection[]): Detection[] {
  const confident = dets.filter((d) => d.score >= CONFIDENT_SCORE && ref.labels.includes(d.label));
  if (confident.length) return confident;
  const primary = ref.labels[0];
  const weak = dets.filter((d) => d.score >= WEAK_SCORE_FLOOR && d.label === primary);
  // A weak tier holds noise besides the object: a group keeps only those near the best score.
  if (weak.length) {
    const best = Math.max(...weak.map((d) => d.score));
    return weak.filter((d) => d.score >= best / 2);
  }
  const alike = primary ? (LOOKALIKES[primary] ?? []) : [];
  return dets.filter((d) => d.score >= CONFIDENT_SCORE && alike.includes(d.label));
}

/** Words that make a noun plural when the noun alone does not say ("all the sheep", "both sheep"). */
const GROUP_WORDS = /\b(all|both|every|each|two|three|four|five|several|many|group|herd|flock|crowd|pair)\b/;
const PLURAL_NOUNS = new Set(Object.keys(SYNONYMS).filter((w) => /(s|men|people|children|cattle)$/.test(w) && !/(bus|glass|sheep)$/.test(w)));

export type ColourName = 'red' | 'orange' | 'yellow' | 'green' | 'blue' | 'purple' | 'pink' | 'brown' | 'black' | 'white' | 'gray';

const COLOUR_WORDS: Record<string, ColourName> = {
  red: 'red', crimson: 'red', scarlet: 'red', maroon: 'red', orange: 'orange', yellow: 'yellow', golden: 'yellow', gold: 'yellow',
  green: 'green', blue: 'blue', navy: 'blue', teal: 'blue', turquoise: 'blue', cyan: 'blue', purple: 'purple', violet: 'purple',
  pink: 'pink', magenta: 'pink', brown: 'brown', tan: 'brown', beige: 'brown', black: 'black', dark: 'black', white: 'white',
  cream: 'white', gray: 'gray', grey: 'gray', silver: 'gray',
};

export type Locative = 'left' | 'right' | 'top' | 'bottom' | 'middle' | 'largest' | 'smallest' | 'front' | 'back';

export interface Reference {
  /** COCO labels the noun may be, best first; empty when no known object is named. */
  readonly labels: readonly CocoLabel[];
  /** The noun as written ("puppy"). */
  readonly noun?: string;
  readonly colours: readonly ColourName[];
  readonly locatives: readonly Locative[];
  /** 1-based position for "second from the left". */
  readonly ordinal?: number;
  /** All instances rather than one. */
  readonly group: boolean;
}

const ORDINALS: Record<string, number> = { first: 1, second: 2, third: 3, fourth: 4, fifth: 5, '1st': 1, '2nd': 2, '3rd': 3, '4th': 4, '5th': 5 };

const LOCATIVE_WORDS: [RegExp, Locative][] = [
  [/\b(left|leftmost|left-most|west)\b/, 'left'],
  [/\b(right|rightmost|right-most|east)\b/, 'right'],
  [/\b(top|upper|uppermost|above|highest|sky)\b/, 'top'],
  [/\b(bottom|lower|lowest|below|underneath)\b/, 'bottom'],
  [/\b(middle|center|centre|central)\b/, 'middle'],
  [/\b(largest|biggest|big|large|huge|main|tallest)\b/, 'largest'],
  [/\b(smallest|small|little|tiny|tinier|smaller)\b/, 'smallest'],
  [/\b(front|foreground|nearest|closest|near)\b/, 'front'],
  [/\b(back|background|farthest|furthest|far|distant|behind)\b/, 'back'],
];

const LABEL_PHRASES: [string, readonly CocoLabel[]][] = [
  ...COCO_LABELS.map((l): [string, readonly CocoLabel[]] => [l, [l]]),
  ...Object.entries(SYNONYMS),
].sort((a, b) => b[0].length - a[0].length);

/** The first object the phrase names, with what qualifies it. */
export function parseReference(prompt: string): Reference {
  const text = ` ${prompt.toLowerCase().replace(/[^a-z0-9' -]+/g, ' ').replace(/\s+/g, ' ').trim()} `;
  let best: { at: number; phrase: string; labels: readonly CocoLabel[] } | undefined;
  for (const [phrase, labels] of LABEL_PHRASES) {
    const at = text.indexOf(` ${phrase} `);
    // The earliest-named object is the referent ("the dog next to the car"); at a tie, the longer phrase wins (sorted).
    if (at >= 0 && (!best || at < best.at)) best = { at, phrase, labels };
  }
  // Qualifiers after a relative word describe another object ("the sheep next to the red car").
  const head = best ? text.slice(0, text.indexOf(' ', best.at + best.phrase.length + 1) + 1) : text;
  const colours: ColourName[] = [];
  for (const [word, colour] of Object.entries(COLOUR_WORDS)) if (new RegExp(`\\b${word}\\b`).test(head) && !colours.includes(colour)) colours.push(colour);
  const locatives: Locative[] = [];
  for (const [re, loc] of LOCATIVE_WORDS) if (re.test(text) && !locatives.includes(loc)) locatives.push(loc);
  // "the car on the left side of the road": location words belong to the referent even when they follow it.
  let ordinal: number | undefined;
  const ord = /\b(first|second|third|fourth|fifth|1st|2nd|3rd|4th|5th)\b/.exec(text);
  if (ord) ordinal = ORDINALS[ord[1]!];
  const group = Boolean(best && (PLURAL_NOUNS.has(best.phrase) || GROUP_WORDS.test(text)) && ordinal === undefined && !/\b(one|single)\b/.test(text));
  return { labels: best?.labels ?? [], ...(best ? { noun: best.phrase } : {}), colours, locatives, ...(ordinal !== undefined ? { ordinal } : {}), group };
}

/** Hue/lightness class of one RGB pixel. */
export function colourOf(r: number, g: number, b: number): ColourName {
  const max = Math.max(r, g, b);
  const min = Math.min(r, g, b);
  const l = (max + min) / 510;
  const d = (max - min) / 255;
  const s = d === 0 ? 0 : d / (1 - Math.abs(2 * l - 1));
  if (l < 0.16) return 'black';
  // Chroma, not HSL saturation, decides greyness: HSL inflates the saturation of pale colours (a white car in blue shade).
  if (s < 0.18 || d < 0.14) return l > 0.68 ? 'white' : l < 0.25 ? 'black' : 'gray';
  // Photos carry colour casts (white paint in blue shade reads 168,189,218); pale, weakly tinted pixels are white.
  if (l > 0.65 && d < 0.25) return 'white';
  let hue: number;
  if (max === r) hue = (((g - b) / (max - min)) % 6) * 60;
  else if (max === g) hue = ((b - r) / (max - min) + 2) * 60;
  else hue = ((r - g) / (max - min) + 4) * 60;
  if (hue < 0) hue += 360;
  if (hue < 15 || hue >= 340) return l > 0.7 ? 'pink' : l < 0.3 && s < 0.6 ? 'brown' : 'red';
  if (hue < 40) return l < 0.4 || s < 0.45 ? 'brown' : 'orange';
  if (hue < 68) return l < 0.3 ? 'brown' : 'yellow';
  if (hue < 165) return 'green';
  if (hue < 255) return 'blue';
  if (hue < 290) return 'purple';
  return 'pink';
}

/** Share of pixels in the box's central part (where the object, not the background, is) of each colour class. */
export function colourShares(img: ImageData, d: Box4): Map<ColourName, number> {
  const shares = new Map<ColourName, number>();
  const x0 = Math.floor(d.x + d.width * 0.2);
  const x1 = Math.ceil(d.x + d.width * 0.8);
  const y0 = Math.floor(d.y + d.height * 0.2);
  const y1 = Math.ceil(d.y + d.height * 0.8);
  const step = Math.max(1, Math.floor(Math.sqrt(((x1 - x0) * (y1 - y0)) / 4000)));
  let n = 0;
  for (let y = Math.max(0, y0); y < Math.min(img.height, y1); y += step) {
    for (let x = Math.max(0, x0); x < Math.min(img.width, x1); x += step) {
      const i = (y * img.width + x) * img.channels;
      const c = colourOf(img.data[i]!, img.data[i + 1]!, img.data[i + 2]!);
      shares.set(c, (shares.get(c) ?? 0) + 1);
      n++;
    }
  }
  for (const [k, v] of shares) shares.set(k, v / Math.max(1, n));
  return shares;
}

/** The dominant colour class of a box's centre. */
export function dominantColour(img: ImageData, d: Box4): ColourName {
  let best: ColourName = 'gray';
  let share = -1;
  for (const [c, s] of colourShares(img, d)) {
    if (s > share) {
      best = c;
      share = s;
    }
  }
  return best;
}

/** How prominent a detection is: big, confident and near the centre. */
export function prominence(d: Detection, w: number, h: number): number {
  const area = (d.width * d.height) / (w * h);
  const dx = (d.x + d.width / 2) / w - 0.5;
  const dy = (d.y + d.height / 2) / h - 0.5;
  const centrality = 1 - Math.min(1, Math.hypot(dx, dy) / Math.SQRT1_2) * 0.6;
  // Square root of the area: a large background object should not beat a confident central one by area alone.
  return Math.sqrt(area) * d.score * centrality;
}

interface Box4 {
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
}

/**
 * The detections a reference picks out of `dets` (already filtered to its labels).
 * Colour words rank by the share of matching pixels; locatives then order
 * what is left; a group reference keeps every instance the qualifiers allow.
 */
export function chooseDetections(ref: Reference, dets: readonly Detection[], img: ImageData): Detection[] {
  if (dets.length === 0) return [];
  // Objects of the first-listed label win over related ones ("car" before "truck" for a van).
  let pool = [...dets];
  const primary = pool.filter((d) => d.label === ref.labels[0]);
  if (primary.length) pool = primary;

  if (ref.colours.length) {
    const scored = pool.map((d) => {
      const shares = colourShares(img, d);
      return { d, share: Math.max(...ref.colours.map((c) => shares.get(c) ?? 0)) };
    });
    const best = Math.max(...scored.map((s) => s.share));
    // Keep every instance close to the best match: "the white sheep" with two white sheep is still ambiguous, and locatives decide.
    pool = scored.filter((s) => s.share >= best * 0.6).map((s) => s.d);
  }

  const cx = (d: Detection): number => d.x + d.width / 2;
  const cy = (d: Detection): number => d.y + d.height / 2;
  const area = (d: Detection): number => d.width * d.height;
  const locs = ref.locatives;
  if (ref.group && !locs.length) return pool;
  if (ref.group) {
    // "the sheep on the left" with a group noun: those in that half.
    return pool.filter((d) => {
      if (locs.includes('left') && cx(d) > img.width / 2) return false;
      if (locs.includes('right') && cx(d) < img.width / 2) return false;
      if (locs.includes('top') && cy(d) > img.height / 2) return false;
      if (locs.includes('bottom') && cy(d) < img.height / 2) return false;
      return true;
    });
  }

  let order: ((d: Detection) => number) | undefined;
  if (locs.includes('left')) order = cx;
  else if (locs.includes('right')) order = (d) => -cx(d);
  else if (locs.includes('top')) order = cy;
  else if (locs.includes('bottom')) order = (d) => -cy(d);
  else if (locs.includes('middle')) order = (d) => Math.hypot(cx(d) - img.width / 2, cy(d) - img.height / 2);
  else if (locs.includes('largest')) order = (d) => -area(d);
  else if (locs.includes('smallest')) order = area;
  // Nearer objects stand lower in the frame and look bigger.
  else if (locs.includes('front')) order = (d) => -(d.y + d.height) - Math.sqrt(area(d));
  else if (locs.includes('back')) order = (d) => d.y + d.height + Math.sqrt(area(d));
  if (!order) {
    // "the person" among several means the one the photo is about: large, central and confident, not merely the most confident.
    const byProminence = [...pool].sort((a, b) => prominence(b, img.width, img.height) - prominence(a, img.width, img.height));
    return ref.ordinal ? [] : byProminence.slice(0, 1);
  }
  const sorted = [...pool].sort((a, b) => order(a) - order(b));
  const pick = sorted[(ref.ordinal ?? 1) - 1];
  return pick ? [pick] : [];
}
