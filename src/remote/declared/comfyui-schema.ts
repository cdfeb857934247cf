/**
 * Whether a ComfyUI server can run a workflow, from its own schema
 * (GET /object_info): every node class exists, every input the graph sets is
 * one the class has and every required one is set, and every model file the
 * graph names is among the files the server lists. Answers are sentences an
 * owner can act on: "flux1-dev-kontext_fp8_scaled.safetensors is not in
 * ComfyUI's diffusion_models".
 */
import { templatePlaceholders } from './comfyui.ts';

interface NodeSchema {
  readonly input?: { readonly required?: Record<string, unknown>; readonly optional?: Record<string, unknown> };
}
export type ObjectInfo = Readonly<Record<string, NodeSchema>>;

/** The model folder a loader input lists, as ComfyUI's folder_paths names it (models/<folder>). */
const MODEL_FOLDERS: Readonly<Record<string, string>> = {
  'UNETLoader.unet_name': 'diffusion_models',
  'DualCLIPLoader.clip_name1': 'text_encoders',
  'DualCLIPLoader.clip_name2': 'text_encoders',
  'CLIPLoader.clip_name': 'text_encoders',
  'VAELoader.vae_name': 'vae',
  'LoraLoaderModelOnly.lora_name': 'loras',
  'LoraLoader.lora_name': 'loras',
  'CheckpointLoaderSimple.ckpt_name': 'checkpoints',
  'ControlNetLoader.control_net_name': 'controlnet',
  'CLIPVisionLoader.clip_name': 'clip_vision',
  'StyleModelLoader.style_model_name': 'style_models',
};

/** Inputs naming an uploaded picture: ComfyUI checks those against its input folder, not a list. */
const UPLOADS = new Set(['LoadImage.image', 'LoadImageMask.image']);

function choicesOf(spec: unknown): unknown[] | undefined {
  if (!Array.isArray(spec)) return undefined;
  if (Array.isArray(spec[0])) return spec[0] as unknown[];
  if (spec[0] === 'COMBO') return ((spec[1] ?? {}) as { options?: unknown[] }).options ?? [];
  return undefined;
}

/** What keeps `template` from running on the server whose schema is `info`; empty when it can. */
export function missingFromServer(template: Readonly<Record<string, unknown>>, info: ObjectInfo): string[] {
  const problems: string[] = [];
  const hasPlaceholder = (v: unknown): boolean => templatePlaceholders(v).size > 0;
  for (const [id, raw] of Object.entries(template)) {
    const node = (raw ?? {}) as { class_type?: unknown; inputs?: Record<string, unknown> };
    const cls = String(node.class_type);
    const schema = info[cls];
    if (!schema) {
      problems.push(`node ${id}: ComfyUI has no ${cls} node (a custom node, or an older ComfyUI)`);
      continue;
    }
    const required = schema.input?.required ?? {};
    const optional = schema.input?.optional ?? {};
    const inputs = node.inputs ?? {};
    for (const name of Object.keys(required)) if (!(name in inputs)) problems.push(`node ${id}: ${cls} needs input "${name}"`);
    for (const [name, value] of Object.entries(inputs)) {
      const spec = required[name] ?? optional[name];
      if (spec === undefined) {
        problems.push(`node ${id}: ${cls} has no input "${name}"`);
        continue;
      }
      if (Array.isArray(value) || hasPlaceholder(value) || UPLOADS.has(`${cls}.${name}`)) continue;
      const choices = choicesOf(spec);
      if (!choices || choices.includes(value)) continue;
      const folder = MODEL_FOLDERS[`${cls}.${name}`];
      problems.push(folder ? `${String(value)} is not in ComfyUI's ${folder}` : `node ${id}: "${String(value)}" is not a choice of ${cls}.${name}`);
    }
  }
  return [...new Set(problems)];
}

/** /object_info answers by server, reused briefly: listing bricks checks each of them. */
const cache = new Map<string, { at: number; value: Promise<ObjectInfo> }>();
const TTL_MS = 30_000;

export function serverSchema(url: string, timeoutMs = 5_000): Promise<ObjectInfo> {
  const base = url.replace(/\/+$/, '');
  const hit = cache.get(base);
  if (hit && performance.now() - hit.at < TTL_MS) return hit.value;
  const value = (async () => {
    const res = await fetch(`${base}/object_info`, { signal: AbortSignal.timeout(timeoutMs) });
    if (!res.ok) throw new Error(`${base}/object_info answered ${res.status}`);
    return (await res.json()) as ObjectInfo;
  })();
  cache.set(base, { at: performance.now(), value });
  value.catch(() => cache.delete(base));
  return value;
}
