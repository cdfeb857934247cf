/**
 * FLUX-ENV, CPU variant: colour grades for time of day and haze. A grade
 * changes light and colour only; weather that adds matter to the scene (snow,
 * rain, a blizzard) or moves light sources needs the generative model.
 */
import { defineBrick, port } from '../../src/engine/brick.ts';
import type { ImageData } from '../../src/engine/values.ts';
import { type GpuOnly, gpuHostBackend, gpuNeedOf, gpuOnly, orNeedsGpuHost } from '../lib/backends.ts';
import { tokens } from '../lib/colour.ts';
import { fogGrade, nightGrade, sunsetGrade } from '../lib/filters.ts';
import { unknownWords } from '../lib/prompt-words.ts';

type Grade = (img: ImageData) => ImageData | Promise<ImageData>;

const GRADES: readonly { name: string; words: readonly string[]; grade: Grade }[] = [
  { name: 'sunset', words: ['sunset', 'golden hour', 'golden', 'dusk', 'evening', 'sundown', 'twilight', 'warm', 'warmer', 'sunrise', 'dawn'], grade: sunsetGrade },
  { name: 'night', words: ['night', 'nighttime', 'night time', 'midnight', 'dark', 'darker', 'moonlight', 'moonlit'], grade: nightGrade },
  { name: 'fog', words: ['fog', 'foggy', 'mist', 'misty', 'haze', 'hazy', 'smog', 'smoggy'], grade: (img) => fogGrade(img) },
];

const ALLOWED = new Set(['time', 'day', 'hour', 'during', 'weather', 'environment', 'atmosphere', 'sky', 'lighting', 'light', 'mood', 'add', 'scenery', 'setting']);

/** The colour grade a prompt asks for, or what only the generative model can do. */
function readEnvGrade(prompt: string): { name: string; grade: Grade } | GpuOnly {
  const words = tokens(prompt);
  const joined = ` ${words.join(' ')} `;
  const hits = GRADES.filter((g) => g.words.some((w) => joined.includes(` ${w} `)));
  if (hits.length === 1) {
    const g = hits[0]!;
    let rest = joined;
    for (const w of [...g.words].sort((a, b) => b.length - a.length)) rest = rest.split(` ${w} `).join('  ');
    if (unknownWords(rest, ALLOWED).length === 0) return g;
  }
  return gpuOnly(`Changing the environment to "${prompt}" (generative environment editing)`);
}

export function envGrade(prompt: string): { name: string; grade: Grade } {
  return orNeedsGpuHost('FLUX-ENV', readEnvGrade(prompt));
}

export const FLUX_ENV = defineBrick({
  name: 'FLUX-ENV',
  kind: 'edit',
  description: 'Change weather, season or time of day',
  inputs: { image: port.image(), prompt: port.str({ description: 'Target environment: "sunset", "night", "fog", "winter"' }) },
  outputs: { image: port.image() },
  constraint:
    'Global change of scene conditions; objects stay where they are. On CPU only colour grades: sunset/golden hour warmth, night, fog/haze. ' +
    'Snow, rain, blizzards, seasons and new light sources need a GPU host.',
  version: '2',
  cpuHeavy: true,
  backends: () => [
    { name: 'cpu-grades', available: true, detail: 'sunset/golden hour, night, fog/haze colour grades' },
    gpuHostBackend('generative weather and seasons'),
  ],
  gpuNeed: ({ prompt }) => gpuNeedOf(readEnvGrade(prompt)),
  async run({ image, prompt }, ctx) {
    const { name, grade } = envGrade(prompt);
    ctx.signal.throwIfAborted();
    ctx.logger.debug({ grade: name }, 'FLUX-ENV grade');
    return { image: await grade(image) };
  },
});
