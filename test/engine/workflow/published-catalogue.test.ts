/**
 * Workflows written as the published Lego-Edit Builder writes them (its system
 * prompt, xiaomi-research/lego-edit `system_prompt.txt`, and what its model
 * emits): one or more for each of the 17 published bricks, with the published
 * quirks (full-width commas, a missing comma, trailing commas, an output key
 * that disagrees with its reference, a `<think>` trace before the JSON, outputs
 * listed as null). Each must parse and validate as written; bricks that run on
 * this CPU must run, and generative ones must stop with their typed needs-GPU
 * error, never a validation error.
 */
import { beforeAll, expect, it } from 'vitest';
import { builtinBricks } from '../../../bricks/index.ts';
import { maskBounds } from '../../../bricks/lib/pixels.ts';
import { NeedsGpuHostError } from '../../../src/engine/errors.ts';
import { Executor, type RunOutcome } from '../../../src/engine/executor.ts';
import { decodeImage } from '../../../src/engine/image-io.ts';
import { BrickRegistry } from '../../../src/engine/registry.ts';
import type { ImageData, MaskData } from '../../../src/engine/values.ts';
import { parseBuilderReply } from '../../../src/engine/workflow/parse.ts';
import { validateWorkflow } from '../../../src/engine/workflow/validate.ts';
import { rectMask } from '../../support/pixels.ts';
import { describeWithPhotos, readPhoto } from '../../support/shared.ts';

const registry = new BrickRegistry(builtinBricks());

/** The published examples' shape: one step object per brick call, then the result. */
const THINK = '<think>The user wants this edit; I segment the object first and then edit it.</think>\n';

interface Case {
  readonly brick: string;
  readonly text: string;
  /** Runs on this CPU (and then `check` looks at the results), or stops needing a GPU host at the brick named. */
  readonly expect: { readonly ok: (results: readonly unknown[]) => void } | { readonly needsGpu: string };
  readonly withMask?: boolean;
}

const mask = (v: unknown): MaskData => v as MaskData;
const image = (v: unknown): ImageData => v as ImageData;

const CASES: readonly Case[] = [
  {
    brick: 'INVERSE',
    // Trailing commas; mask1 null means a full mask.
    text: `{"process": "everything but the sheep", "pipeline": [
      {"step": 1, "model": "RES", "input": {"image": "init[image]", "prompt": "sheep",}, "output": {"mask": "step1[mask]", "image": "step1[image]",},},
      {"step": 2, "model": "INVERSE", "input": {"mask1": null, "mask2": "step1[mask]", "image1": null, "image2": null,}, "output": {"mask": "step2[mask]", "image": null,},},
      {"result": "[step2[mask]]"},
    ]}`,
    expect: { ok: ([m]) => expect(mask(m).data[0]).toBe(255) },
  },
  {
    brick: 'RES',
    // Published example 2, with the sheep for the dog.
    text: `${THINK}{
  "process": "输出羊的分割结果并消除羊",
  "pipeline": [
    {"step": 1, "model": "RES", "input": {"image": "init[image]", "prompt": "sheep"  }, "output": {"mask": "step1[mask]", "image": "step1[image]"}},
    {"step": 2, "model": "FASTINPAINT", "input": {"image": "init[image]", "mask": "step1[mask]" }, "output": {"image": "step2[image]", "score": "step2[score]"}},
    {"step": 3, "model": "FLUX-INPAINT", "input": {"image": "init[image]", "mask": "step1[mask]", "preimage": "step2[image]", "score": "step2[score]"}, "output": {"image": "step3[image]"}},
    {"result": "[step1[image], step3[image]]"}
  ]
}`,
    expect: { ok: (results) => expect(results.map((r) => image(r).width)).toEqual([427, 427]) },
  },
  {
    brick: 'SOS',
    text: `${THINK}{"process": "cut out the main subject", "pipeline": [{"step": 1, "model": "SOS", "input": {"image": "init[image]"}, "output": {"mask": "step1[mask]", "image": "step1[image]"}}, {"result": "[step1[image]]"}]}`,
    expect: { ok: ([v]) => expect(image(v).width).toBe(427) },
  },
  {
    brick: 'MASK-SEG',
    // Full-width comma between outputs, as in published example 4.
    text: `{"process": "用户提供了mask并希望分割", "pipeline": [{"step": 1, "model": "MASK-SEG", "input": {"image": "init[image]", "mask": "init[mask]"}, "output": {"mask": "step1[mask]"， "image": "step1[image]"}}, {"result": "[step1[mask]]"}]}`,
    withMask: true,
    expect: {
      ok: ([m]) => {
        // Inside the rough mask around the left sheep (x 140–259, y 80–234), and much of it.
        const b = maskBounds(mask(m), 127)!;
        expect([b.x >= 140, b.y >= 80, b.x + b.width <= 260, b.y + b.height <= 235]).toEqual([true, true, true, true]);
        expect(b.width * b.height).toBeGreaterThan(0.3 * 120 * 155);
      },
    },
  },
  {
    brick: 'ADD-PRED',
    text: `{"process": "add a black dog on the left", "pipeline": [{"step": 1, "model": "ADD-PRED", "input": {"image": "init[image]", "prompt": "add a black dog on the left", "mask": null,}, "output": {"mask": "step1[mask]"}}, {"result": "[step1[mask]]"}]}`,
    expect: { ok: ([m]) => expect(maskBounds(mask(m))).toBeDefined() },
  },
  {
    brick: 'CMI-PRED',
    // The "ratio" shorthand of published example 1: the whole picture twice as large.
    text: `{"process": "扩图2倍", "pipeline": [{"step": 1, "model": "CMI-PRED", "input": {"image": "init[image]", "ratio": 2.0}, "output": {"caption": "step1[caption]", "image": "step1[image]", "mask": "step1[mask]"}}, {"result": "[step1[image], step1[caption]]"}]}`,
    expect: {
      ok: ([canvas, caption]) => {
        expect([image(canvas).width, image(canvas).height]).toEqual([854, 576]);
        expect(caption).toMatch(/sheep/);
      },
    },
  },
  {
    brick: 'BBOX',
    text: `{"process": "box the sheep", "pipeline": [{"step": 1, "model": "RES", "input": {"image": "init[image]", "prompt": "the left sheep"}, "output": {"mask": "step1[mask]", "image": "step1[image]"}}, {"step": 2, "model": "BBOX", "input": {"mask": "step1[mask]"}, "output": {"mask": "step2[mask]"}}, {"result": "[step1[mask], step2[mask]]"}]}`,
    expect: {
      ok: ([seg, box]) => {
        const b = maskBounds(mask(box))!;
        expect(maskBounds(mask(seg))).toEqual(b);
        expect(mask(box).data[(b.y + b.height - 1) * 427 + b.x]).toBe(255);
      },
    },
  },
  {
    brick: 'FASTINPAINT',
    text: `{"process": "快速消除羊", "pipeline": [{"step": 1, "model": "RES", "input": {"image": "init[image]", "prompt": "sheep"}, "output": {"mask": "step1[mask]", "image": "step1[image]"}}, {"step": 2, "model": "FASTINPAINT", "input": {"image": "init[image]", "mask": "step1[mask]"}, "output": {"image": "step2[image]", "score": "step2[score]"}}, {"result": "[step2[image]]"}]}`,
    expect: { ok: ([v]) => expect(image(v).height).toBe(288) },
  },
  {
    brick: 'FLUX-FILL',
    // Published example 1 as written: trailing commas, a missing comma before "output", and {"mask": "step2[image]"}.
    text: `{
  "process": "先添加一只猫，然后扩图2倍",
  "pipeline": [
    {
      "step": 1,
      "model": "ADD-PRED",
      "input": {
        "image": "init[image]",
        "prompt": "cat",
        "mask": null,
      },
      "output": {
        "mask": "step1[mask]"
      }
    },
    {
      "step": 2,
      "model": "FLUX-FILL",
      "input": {
        "image": "init[image]",
        "mask": "step1[mask]",
        "prompt": "cat",
        "preimage": null
      }
      "output": {
        "mask": "step2[image]"
      }
    },
    {
      "step": 3,
      "model": "CMI-PRED",
      "input": {
        "image": "step2[image]",
        "ratio": 2.0
      },
      "output": {
        "caption": "step3[caption]",
        "image": "step3[image]",
        "mask": "step3[mask]"
      }
    },
    {
      "step": 4,
      "model": "FLUX-FILL",
      "input": {
        "image": "step3[image]", 
        "mask": "step3[mask]",
        "prompt": "step3[caption]",
        "preimage": "step2[image]"
      },
      "output": {
        "image": "step4[image]",
      }
    },
    {
      "result": "[step4[image]]"
    }
  ]
}`,
    expect: { needsGpu: 'FLUX-FILL' },
  },
  {
    brick: 'FLUX-RCM',
    text: `${THINK}{"process": "把左边的羊变成浅蓝色", "pipeline": [{"step": 1, "model": "RES", "input": {"image": "init[image]", "prompt": "the left sheep"}, "output": {"mask": "step1[mask]", "image": "step1[image]"}}, {"step": 2, "model": "FLUX-RCM", "input": {"image": "init[image]", "mask": "step1[mask]", "prompt": "light blue"}, "output": {"image": "step2[image]"}}, {"result": "[step2[image]]"}]}`,
    expect: { ok: ([v]) => expect(image(v).width).toBe(427) },
  },
  {
    brick: 'FLUX-INPAINT',
    text: `{"process": "消除羊", "pipeline": [{"step": 1, "model": "SOS", "input": {"image": "init[image]"}, "output": {"mask": "step1[mask]", "image": "step1[image]"}}, {"step": 2, "model": "FASTINPAINT", "input": {"image": "init[image]", "mask": "step1[mask]"}, "output": {"image": "step2[image]", "score": "step2[score]"}}, {"step": 3, "model": "FLUX-INPAINT", "input": {"image": "init[image]", "mask": "step1[mask]", "preimage": "step2[image]", "score": "step2[score]"}, "output": {"image": "step3[image]"}}, {"result": "[step3[image]]"}]}`,
    expect: { ok: ([v]) => expect(image(v).width).toBe(427) },
  },
  {
    brick: 'FLUX-CBG',
    text: `{"process": "change the background to beach", "pipeline": [{"step": 1, "model": "SOS", "input": {"image": "init[image]"}, "output": {"mask": "step1[mask]", "image": "step1[image]"}}, {"step": 2, "model": "INVERSE", "input": {"mask1": null, "mask2": "step1[mask]", "image1": null, "image2": null}, "output": {"mask": "step2[mask]", "image": null}}, {"step": 3, "model": "FLUX-CBG", "input": {"image": "init[image]", "mask": "step2[mask]", "prompt": "change the background to beach"}, "output": {"image": "step3[image]"}}, {"result": "[step3[image]]"}]}`,
    expect: { needsGpu: 'FLUX-CBG' },
  },
  {
    brick: 'FLUX-STYLE',
    // Published example 3: all ratios null and the unused outputs listed as null.
    text: `{
  "process": "用户提供了mask并希望把图像换成水彩画风格",
  "pipeline": [
    {"step": 1, "model": "CMI-PRED", "input": {"image": "init[image]", "left_ratio": null, "right_ratio": null, "top_ratio": null, "bottom_ratio": null}, "output": {"caption": "step1[caption]", "image": null, "mask": null}},
    {"step": 2, "model": "FLUX-STYLE", "input": {"image": "init[image]", "mask": null, "prompt": "step1[caption]", "style": "watercolor style"}, "output": {"image": "step2[image]"}},
    {"result": "[step2[image]]"}
  ]
}`,
    expect: { needsGpu: 'FLUX-STYLE' },
  },
  {
    brick: 'COMPOSE',
    text: `{"process": "both sheep", "pipeline": [{"step": 1, "model": "RES", "input": {"image": "init[image]", "prompt": "the left sheep"}, "output": {"mask": "step1[mask]", "image": "step1[image]"}}, {"step": 2, "model": "RES", "input": {"image": "init[image]", "prompt": "the right sheep"}, "output": {"mask": "step2[mask]", "image": "step2[image]"}}, {"step": 3, "model": "COMPOSE", "input": {"mask1": "step1[mask]", "mask2": "step2[mask]", "image1": null, "image2": null}, "output": {"mask": "step3[mask]", "image": null}}, {"result": "[step1[mask], step2[mask], step3[mask]]"}]}`,
    expect: {
      ok: ([a, b, both]) => {
        const wrong = mask(both).data.filter((v, p) => v !== Math.max(mask(a).data[p]!, mask(b).data[p]!)).length;
        expect(wrong).toBe(0);
        expect(maskBounds(mask(both))!.width).toBeGreaterThan(Math.max(maskBounds(mask(a))!.width, maskBounds(mask(b))!.width));
      },
    },
  },
  {
    brick: 'RESIZE',
    // The issue's example: a mask resized, the image null.
    text: `{"process": "make the sheep smaller", "pipeline": [{"step": 1, "model": "RES", "input": {"image": "init[image]", "prompt": "the left sheep"}, "output": {"mask": "step1[mask]", "image": "step1[image]"}}, {"step": 2, "model": "RESIZE", "input": {"mask": "step1[mask]", "image": null, "ratio": 0.5}, "output": {"mask": "step2[mask]", "image": null}}, {"result": "[step1[mask], step2[mask]]"}]}`,
    expect: {
      ok: ([before, after]) => {
        const a = maskBounds(mask(before), 127)!;
        const b = maskBounds(mask(after), 127)!;
        expect(b.y + b.height).toBe(a.y + a.height);
        expect(b.height).toBeLessThan(a.height * 0.6);
      },
    },
  },
  {
    brick: 'FLUX-ENV',
    text: `{"process": "变成雨天", "pipeline": [{"step": 1, "model": "FLUX-ENV", "input": {"image": "init[image]", "prompt": "change the weather to be rainny"}, "output": {"image": "step1[image]"}}, {"result": "[step1[image]]"}]}`,
    expect: { needsGpu: 'FLUX-ENV' },
  },
  {
    brick: 'FLUX-POSE',
    text: `{"process": "让羊抬起头", "pipeline": [{"step": 1, "model": "FLUX-POSE", "input": {"image": "init[image]", "prompt": "a white fluffy sheep raising its head"}, "output": {"image": "step1[image]"}}, {"result": "[step1[image]]"}]}`,
    expect: { needsGpu: 'FLUX-POSE' },
  },
];

it('covers every brick of the published catalogue', () => {
  const published = ['INVERSE', 'RES', 'SOS', 'MASK-SEG', 'ADD-PRED', 'CMI-PRED', 'BBOX', 'FASTINPAINT', 'FLUX-FILL', 'FLUX-RCM', 'FLUX-INPAINT', 'FLUX-CBG', 'FLUX-STYLE', 'COMPOSE', 'RESIZE', 'FLUX-ENV', 'FLUX-POSE'];
  expect(CASES.map((c) => c.brick).sort()).toEqual([...published].sort());
  for (const c of CASES) expect(parseBuilderReply(c.text).workflow.nodes.map((n) => n.brick), c.brick).toContain(c.brick);
});

it.each(CASES.map((c) => [c.brick, c] as const))('a published-style %s workflow validates as written', (_, c) => {
  const checked = validateWorkflow(parseBuilderReply(c.text).workflow, registry, { provided: new Set(c.withMask ? ['image', 'mask'] : ['image']) });
  expect(checked.ok ? [] : checked.issues.map((i) => i.message)).toEqual([]);
});

describeWithPhotos('published-style workflows on a real photo', () => {
  const executor = new Executor(registry, { concurrency: 1 });
  let photo: ImageData;
  beforeAll(async () => {
    photo = await decodeImage(readPhoto('two-sheep.jpg'));
  });

  it.each(CASES.map((c) => [c.brick, c] as const))('%s: runs here, or stops needing a GPU host', async (_, c) => {
    // A rough mask around the left sheep, as a user would draw it.
    const userMask = c.withMask ? rectMask(photo.width, photo.height, 140, 80, 120, 155) : undefined;
    const outcome: RunOutcome = await executor.run(parseBuilderReply(c.text).workflow, { image: photo, ...(userMask ? { mask: userMask } : {}) });
    if ('ok' in c.expect) {
      expect(outcome.status === 'failed' ? outcome.error.message : outcome.status).toBe('ok');
      if (outcome.status === 'ok') c.expect.ok(outcome.results);
      return;
    }
    expect(outcome.status).toBe('failed');
    if (outcome.status !== 'failed') return;
    expect(outcome.error.code).toBe('needs-gpu-host');
    expect(outcome.error.cause).toBeInstanceOf(NeedsGpuHostError);
    expect((outcome.error.cause as NeedsGpuHostError).brick).toBe(c.expect.needsGpu);
  }, 120_000);
});
