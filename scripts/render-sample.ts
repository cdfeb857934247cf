/**
 * Renders examples/sample.jpg, the project's own sample photo: a simple street
 * scene (sky, sun, hills, road, a red car, a tree) drawn as SVG and rasterised
 * by sharp. Run with `npm run sample`.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';

const W = 1024;
const H = 768;

const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}">
  <defs>
    <linearGradient id="sky" x1="0" y1="0" x2="0" y2="1">
      <stop offset="0" stop-color="#4a90d9"/><stop offset="1" stop-color="#bfe0f7"/>
    </linearGradient>
    <linearGradient id="body" x1="0" y1="0" x2="0" y2="1">
      <stop offset="0" stop-color="#e23b2e"/><stop offset="1" stop-color="#8e1b14"/>
    </linearGradient>
    <radialGradient id="sun"><stop offset="0" stop-color="#fff7c2"/><stop offset="1" stop-color="#ffd23f"/></radialGradient>
  </defs>
  <rect width="${W}" height="${H}" fill="url(#sky)"/>
  <circle cx="840" cy="130" r="70" fill="url(#sun)"/>
  <path d="M0 470 Q 200 360 420 450 T 1024 430 L1024 560 L0 560 Z" fill="#5f9e4f"/>
  <rect y="540" width="${W}" height="228" fill="#55585c"/>
  <rect y="640" width="${W}" height="10" fill="#e8e8e8"/>
  <rect x="120" y="300" width="36" height="250" fill="#6b4423"/>
  <circle cx="138" cy="280" r="95" fill="#2f7d32"/>
  <circle cx="90" cy="330" r="60" fill="#3b8f3e"/>
  <circle cx="190" cy="330" r="60" fill="#2b6e2e"/>
  <g>
    <path d="M380 600 L400 520 Q 430 470 500 465 L 640 465 Q 700 470 735 520 L 800 535 Q 830 545 830 580 L 830 610 L 380 610 Z" fill="url(#body)"/>
    <path d="M450 520 Q 470 482 505 480 L 560 480 L 560 522 Z" fill="#a9d3f2"/>
    <path d="M575 480 L 635 480 Q 675 484 700 522 L 575 522 Z" fill="#a9d3f2"/>
    <circle cx="480" cy="612" r="38" fill="#1d1d1d"/><circle cx="480" cy="612" r="16" fill="#b0b0b0"/>
    <circle cx="735" cy="612" r="38" fill="#1d1d1d"/><circle cx="735" cy="612" r="16" fill="#b0b0b0"/>
    <rect x="805" y="555" width="22" height="12" rx="3" fill="#ffe48a"/>
  </g>
</svg>`;

const here = dirname(fileURLToPath(import.meta.url));
const out = resolve(here, '../examples/sample.jpg');
await mkdir(dirname(out), { recursive: true });
await writeFile(out, await sharp(Buffer.from(svg)).jpeg({ quality: 88 }).toBuffer());
console.log(`wrote ${out}`);
