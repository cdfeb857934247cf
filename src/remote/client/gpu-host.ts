/**
 * Built-ins with a GPU-host backend, once a transport is configured. Their
 * local variant handles what it can (FLUX-STYLE "sepia") and raises
 * NeedsGpuHostError for the rest (FLUX-STYLE "Ghibli"); the wrapper sends
 * exactly those requests to the worker, under the same brick name with the
 * same inputs. GPU-only bricks (FLUX-FILL) are the case where the local variant
 * refuses everything, unless the user installed a model for it, which then
 * keeps running here. Deciding per request at the point of refusal means the
 * brick's own parser stays the one place that knows what the CPU can do.
 */
import { gpuHostAs, isGpuHostLine } from '../../../bricks/lib/backends.ts';
import type { AnyBrick, BackendStatus, BrickContext, GpuRoute } from '../../engine/brick.ts';
import { BrickUnavailableError, LegoEditError, NeedsGpuHostError } from '../../engine/errors.ts';
import { RemoteBrickError } from '../protocol/errors.ts';
import { type BrickTransport, remoteBrick } from './transport.ts';

/** Whether a brick lists a GPU-host backend, i.e. has requests only a GPU host can serve. */
export function offersGpuHost(b: AnyBrick): boolean {
  const s = b.backends?.();
  // Built-ins answer synchronously; a brick that answers with a promise is not one of them.
  if (!Array.isArray(s)) {
    void Promise.resolve(s).catch(() => undefined);
    return false;
  }
  return (s as readonly BackendStatus[]).some(isGpuHostLine);
}

/** Errors that mean the GPU backend cannot be reached now (not that it refused the request). */
const UNREACHABLE = new Set(['comfyui-unavailable', 'worker-unavailable', 'queue-unavailable']);

/**
 * Runs a request where `route` says: "cpu" on the CPU variant only; "gpu" on
 * the GPU backend (the CPU variant only while that backend cannot be reached,
 * with a warning); "cpu-first" on the CPU variant for what it can do, and on
 * the GPU backend for what it refuses for want of one.
 */
async function runRouted(
  local: AnyBrick,
  gpu: (inputs: Parameters<AnyBrick['run']>[0], ctx: BrickContext, refused?: NeedsGpuHostError) => ReturnType<AnyBrick['run']>,
  route: GpuRoute,
  inputs: Parameters<AnyBrick['run']>[0],
  ctx: BrickContext,
): ReturnType<AnyBrick['run']> {
  if (route === 'cpu') return local.run(inputs, ctx);
  if (route === 'gpu') {
    try {
      return await gpu(inputs, ctx);
    } catch (err) {
      if (!(err instanceof LegoEditError && UNREACHABLE.has(err.code)) || ctx.signal.aborted) throw err;
      ctx.logger.warn({ brick: local.name, err: err.message }, 'GPU backend unreachable; running the CPU variant');
      ctx.warn?.(`${local.name}: the GPU host could not be reached, so the CPU variant did this step.`);
      return local.run(inputs, ctx);
    }
  }
  let refused: NeedsGpuHostError;
  try {
    return await local.run(inputs, ctx);
  } catch (err) {
    if (!(err instanceof NeedsGpuHostError)) throw err;
    refused = err;
  }
  ctx.logger.debug({ brick: local.name, reason: refused.reason }, 'local variant cannot do this; sending it to the GPU backend');
  return gpu(inputs, ctx, refused);
}

/** The route for `brick`: the configuration's, else the brick's own, else cpu-first. */
export function routeOf(brick: AnyBrick, configured: ReadonlyMap<string, GpuRoute>): GpuRoute {
  return configured.get(brick.name.toUpperCase()) ?? brick.gpuRoute ?? 'cpu-first';
}

/** LEGO_EDIT_GPU_ROUTES ("FLUX-INPAINT=gpu,FLUX-STYLE=cpu") as a map by upper-case brick name. */
export function parseGpuRoutes(setting: string | undefined): Map<string, GpuRoute> {
  const out = new Map<string, GpuRoute>();
  for (const part of (setting ?? '').split(',')) {
    const [name, route] = part.split('=').map((s) => s.trim());
    if (name && (route === 'gpu' || route === 'cpu-first' || route === 'cpu')) out.set(name.toUpperCase(), route);
  }
  return out;
}

/**
 * `local`, with a GPU backend beside it: a manifest brick of the same name
 * (ComfyUI, ONNX, a declared worker), used as `route` says. With cpu-first the
 * CPU variant keeps what it can do ("sepia" stays local even when ComfyUI is
 * down); the catalogue keeps the built-in's declaration.
 */
export function withGenerativeBackend(local: AnyBrick, generative: AnyBrick, route: GpuRoute = routeOf(local, new Map())): AnyBrick {
  // Only the ports the declaration has: the built-in may take more (FLUX-FILL's optional pre-fill).
  const gpu = (inputs: Parameters<AnyBrick['run']>[0], ctx: BrickContext) =>
    generative.run(Object.fromEntries(Object.keys(generative.inputs).map((k) => [k, (inputs as Record<string, unknown>)[k] ?? null])) as never, ctx);
  return {
    ...local,
    gpuRoute: route,
    ...(generative.timeoutMs !== undefined && route !== 'cpu' ? { timeoutMs: generative.timeoutMs } : {}),
    backendKey: () => `${local.backendKey?.() ?? 'local'}+${route}:${generative.name}@${generative.version}`,
    async backends(): Promise<BackendStatus[]> {
      const [mine, theirs] = await Promise.all([local.backends?.() ?? [], generative.backends?.() ?? [{ name: 'declared', available: true }]]);
      const host = mine.flatMap((s) => (isGpuHostLine(s) ? theirs.map((t) => gpuHostAs(s, t)) : [s]));
      if (route === 'cpu') return mine.filter((s) => !isGpuHostLine(s));
      // "gpu": the GPU backend is what this brick is; list it first so it is the active one when it can run.
      if (route === 'gpu') return [...host.filter((s) => !mine.includes(s)), ...host.filter((s) => mine.includes(s))];
      return host;
    },
    run: (inputs, ctx) => runRouted(local, gpu, route, inputs, ctx),
  };
}

/** Whether a manifest brick can stand in for `local`'s GPU requests: every port it needs, the built-in has, with the same type. */
export function fitsBuiltin(local: AnyBrick, declared: AnyBrick): boolean {
  const inputsFit = Object.entries(declared.inputs).every(([k, p]) => local.inputs[k]?.type === p.type || (p.optional === true && !local.inputs[k]));
  const outputsFit = Object.entries(local.outputs).every(([k, p]) => p.optional === true || declared.outputs[k]?.type === p.type);
  return inputsFit && outputsFit;
}

/** `local`, with the requests it refuses for want of a GPU sent through `transport`. */
export function withGpuHost(local: AnyBrick, transport: BrickTransport, route: GpuRoute = routeOf(local, new Map())): AnyBrick {
  const remote = remoteBrick(local, transport);
  return {
    ...local,
    gpuRoute: route,
    // What it refuses runs on the GPU host: never share cache entries with the same brick unwired, nor with another host.
    backendKey: () => `${local.backendKey?.() ?? 'local'}+gpu-host${route === 'cpu-first' ? '' : `(${route})`}:${transport.kind}:${transport.target}`,
    async backends(): Promise<BackendStatus[]> {
      const [mine, host] = await Promise.all([local.backends?.() ?? [], remote.backends!()]);
      const line = host[0]!;
      return mine.map((s) => (isGpuHostLine(s) ? gpuHostAs(s, line) : s));
    },
    run: (inputs, ctx) =>
      runRouted(
        local,
        async (i, c, refused) => {
          try {
            return await remote.run(i, c);
          } catch (err) {
            // The worker has the same CPU variant and nothing better: say so, rather than relay its "configure a GPU host".
            if (err instanceof RemoteBrickError && err.code === 'needs-gpu-host') {
              throw new BrickUnavailableError(
                local.name,
                `${refused ? `${refused.reason}, and ` : ''}the GPU host (${transport.kind} ${transport.target}) serves only the CPU variant of ${local.name}`,
                `On the GPU host, serve a generative ${local.name}: a manifest brick of that name (ComfyUI, ONNX) or one from \`lego-edit worker --module\`; see docs/remote.md.`,
              );
            }
            throw err;
          }
        },
        route,
        inputs,
        ctx,
      ),
  };
}
